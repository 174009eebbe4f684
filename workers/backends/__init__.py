"""Where card work executes: `local` processes, a bubblewrap `sandbox`, a `docker`
container or another machine over `ssh` (see `workers.backends.base` for the seam and
docs/backends.md for what each protects). The docker and ssh libraries are imported only
when a profile uses them."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from profiles.model import BackendSpec
from workers.backends.base import Backend, BackendUnavailable, Execution, Sink, Tag, board_tag
from workers.backends.local import LocalBackend
from workers.backends.network import slirp
from workers.backends.sandbox import SandboxBackend, probe

__all__ = [
    "Backend",
    "BackendUnavailable",
    "Execution",
    "Sink",
    "Tag",
    "backend_for",
    "board_tag",
    "probe",
    "release",
    "slirp",
]


def backend_for(
    spec: BackendSpec,
    *,
    hide: tuple[Path, ...] = (),
    readonly: tuple[Path, ...] = (),
    tag: Tag | None = None,
    passed: Iterable[str] = (),
) -> tuple[Backend, str | None]:
    """The backend a profile's `backend` setting means on this machine, and a note when
    `auto` had to fall back to `local` (said in the run log). `tag` names the run on
    what docker and ssh leave behind; `passed` are the variables the profile sends on
    purpose (the only ones, besides the card's own, that leave this host)."""
    if spec.kind == "local":
        return LocalBackend(), None
    if spec.kind in ("docker", "ssh"):
        return _remote(spec, tag or Tag(board_tag(None), 0, 0), passed, readonly), None
    problem = probe()
    if problem is not None:
        if spec.kind == "sandbox":
            raise BackendUnavailable(
                f"the profile asks for backend sandbox, but {problem}; install it, or set "
                "`backend: local` in the profile to run without a sandbox"
            )
        return LocalBackend(), f"no sandbox on this machine: {problem}"
    sandbox = SandboxBackend(
        network=bool(spec.network), expose=tuple(spec.expose), hide=hide, readonly=readonly
    )
    return sandbox, None


def _remote(
    spec: BackendSpec, tag: Tag, passed: Iterable[str], readonly: tuple[Path, ...]
) -> Backend:
    if spec.kind == "docker":
        from workers.backends.container import DockerBackend

        return DockerBackend(
            str(spec.image), spec.network_mode, spec.docker_host, tag, passed, readonly
        )
    from workers.backends.remote import SshBackend

    return SshBackend(spec, tag, passed, readonly[0] if readonly else None)


def release() -> None:
    """Close what backends hold open beyond one execution (ssh connections, docker
    clients), at the end of an attempt; nothing is imported for it."""
    for name in ("workers.backends.remote", "workers.backends.container"):
        module = sys.modules.get(name)
        if module is not None:
            module.close_all()
