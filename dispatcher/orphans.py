"""Card work that outlived its worker on a docker daemon or a remote host.

A worker killed with its dispatcher (a crash, a kill -9 of the whole tree, a reboot)
cannot remove its container or kill its remote process group; nothing on this host
holds them any more, so killing process groups here (as reclaims do for `local` work)
does not reach them. Both carry their board and run (container labels, pid files in the
remote workdir), so a dispatcher sweeps them: once when it starts, and again whenever it
takes a run back. Anything of this board whose run is not live goes; live runs (of other
dispatchers, or orphaned workers still finishing their cards) are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from hermes.errors import HermesError
from profiles.model import BackendSpec
from workers.backends.base import EndedRuns


def remote_specs(backends: Iterable[BackendSpec]) -> list[BackendSpec]:
    """The distinct docker endpoints and ssh hosts among profiles' backends."""
    seen: dict[tuple[object, ...], BackendSpec] = {}
    for spec in backends:
        if spec.kind == "docker":
            seen.setdefault(("docker", spec.docker_host), spec)
        elif spec.kind == "ssh":
            seen.setdefault(("ssh", spec.host, spec.port, spec.user, spec.workdir), spec)
    return list(seen.values())


def sweep(
    specs: Iterable[BackendSpec], board: str, ended: EndedRuns
) -> tuple[list[str], list[str]]:
    """Remove the containers and kill the remote groups of `board`'s `ended` runs;
    returns what went and what could not be looked at (never raises: a daemon or host
    that is down must not stop a dispatcher)."""
    removed: list[str] = []
    problems: list[str] = []
    for spec in specs:
        try:
            removed += _sweep_one(spec, board, ended)
        except HermesError as exc:
            problems.append(f"could not look for orphans of backend {spec.kind}: {exc}")
        except Exception as exc:  # a library error the backend did not word
            problems.append(f"could not look for orphans of backend {spec.kind}: {exc!r}")
    return removed, problems


def _sweep_one(spec: BackendSpec, board: str, ended: EndedRuns) -> list[str]:
    if spec.kind == "docker":
        from workers.backends.container import remove_orphans

        return remove_orphans(spec.docker_host, board, ended)
    from workers.backends.remote import kill_orphans

    return kill_orphans(spec, board, ended)
