"""The `docker` backend: card work in a throwaway container, through the docker SDK.

Each execution (a command card's body, one agent shell command) is one container of the
profile's image: the workspace bind-mounted at the same path (so paths in output, in
errors and in the agent's view agree on both sides), run as this user's uid:gid (so what
it writes in the worktree belongs to the user, and git on the host can commit it), with
docker's init as PID 1 (zombies reaped, signals passed on), no network unless the
profile names a mode, and an environment of only what card work may see: the card's own
variables and those the profile passes on purpose (never a provider key, never the
host's PATH or HOME, which mean nothing inside).

Containers carry labels naming the board (a digest of its URL), the card and the run,
so a dispatcher restarted after a crash finds the ones it left and removes them. A kill
removes the container by force: the daemon SIGKILLs every process in it at once.

The docker library is imported only when a profile uses this backend; the endpoint is
the profile's `docker_host`, else `DOCKER_HOST`, else the daemon's default socket.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from workers.backends.base import BackendUnavailable, EndedRuns, Sink, Tag
from workers.backends.local import DRAIN

INSTALL = "pip install 'hermes-board[docker]'"
#: The variables of the card's environment that mean the same inside a container.
PORTABLE = ("HERMES_CARD_ID", "HERMES_RUN_ID", "HERMES_WORKSPACE", "LANG", "LC_ALL", "TZ")
LABEL = "hermes.board"
DEFAULT_SOCKET = "unix:///var/run/docker.sock"  # where the SDK looks without DOCKER_HOST
#: How long to wait on the daemon for one call before calling it unreachable.
API_TIMEOUT = 30


_open: list[Any] = []  # the clients backends of this process hold


def close_all() -> None:
    """Close every docker client this process opened (a worker's attempt is over)."""
    while _open:
        _open.pop().close()


def portable_env(env: dict[str, str], passed: Iterable[str]) -> dict[str, str]:
    """What of the card's environment goes to another machine or a container: the
    card's own variables and the ones the profile passes on purpose, nothing else (the
    host's PATH, HOME or SSH_AUTH_SOCK would be wrong or dangerous there)."""
    keep = (*PORTABLE, *passed)
    return {name: env[name] for name in keep if name in env}


def endpoint(docker_host: str | None) -> str:
    """The daemon's address as users set it, for messages."""
    return docker_host or os.environ.get("DOCKER_HOST") or "the default socket"


def client(docker_host: str | None) -> Any:
    """A connected docker client, or BackendUnavailable naming the endpoint and the fix
    (an unreachable daemon is not something a retry of the card will fix)."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        raise BackendUnavailable(
            f"the profile asks for backend docker, but the docker library is not installed: "
            f"{INSTALL}"
        ) from None
    where = endpoint(docker_host)
    address = docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET
    if address.startswith("unix://") and not Path(address.removeprefix("unix://")).exists():
        # Said before the SDK tries: its failed unix connects leak their sockets.
        raise BackendUnavailable(
            f"the docker daemon at {where} cannot be reached (no socket at "
            f"{address.removeprefix('unix://')}); start it, or point DOCKER_HOST (or the "
            "profile's backend.docker_host) at a running one"
        )
    found = None
    try:
        if docker_host:
            found = docker.DockerClient(base_url=docker_host, timeout=API_TIMEOUT)
        else:
            found = docker.from_env(timeout=API_TIMEOUT)
        found.ping()
    except DockerException as exc:
        if found is not None:
            found.close()
        raise BackendUnavailable(
            f"the docker daemon at {where} cannot be reached ({_short(exc)}); start it, or "
            "point DOCKER_HOST (or the profile's backend.docker_host) at a running one"
        ) from None
    return found


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


class DockerBackend:
    """Runs each piece of card work in a new container of the profile's image."""

    kind = "docker"

    def __init__(
        self,
        image: str,
        network: str,
        docker_host: str | None,
        tag: Tag,
        passed: Iterable[str],
        readonly: tuple[Path, ...] = (),
    ) -> None:
        self.image, self.network, self.tag = image, network, tag
        self.passed = tuple(passed)
        self.readonly = readonly  # the repository's .git: git status and log work inside
        self.docker_host = docker_host
        self._client = client(docker_host)
        try:
            self._check_image()
        except BaseException:
            self._client.close()
            raise
        _open.append(self._client)

    def _check_image(self) -> None:
        from docker.errors import ImageNotFound

        try:
            self._client.images.get(self.image)
        except ImageNotFound:
            raise BackendUnavailable(
                f"image {self.image!r} is not on the docker daemon at "
                f"{endpoint(self.docker_host)}; pull or build it there first "
                f"(docker pull {self.image}), or fix backend.image in the profile"
            ) from None

    def describe(self) -> str:
        """What the run log says about where the work runs."""
        net = "network off" if self.network == "none" else f"network {self.network}"
        return f"docker (image {self.image}, {net}, daemon {endpoint(self.docker_host)})"

    def start(
        self, argv: list[str], *, workspace: Path, env: dict[str, str], output: Sink
    ) -> ContainerRun:
        """Start `argv` in a new container around `workspace`."""
        path = os.fspath(workspace)
        inner = portable_env(env, self.passed) | {"HOME": "/tmp", "PWD": path}
        container = self._client.containers.create(
            self.image,
            argv,
            init=True,
            user=f"{os.getuid()}:{os.getgid()}",
            working_dir=path,
            environment=inner,
            volumes={
                path: {"bind": path, "mode": "rw"},
                **{str(p): {"bind": str(p), "mode": "ro"} for p in self.readonly},
            },
            tmpfs={"/tmp": "rw,mode=1777"},
            network_mode=self.network,
            # no capabilities, no setuid escalation: card work needs none, and a setuid
            # binary in the image must not get root's rights over the mounted worktree
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            pids_limit=PIDS_LIMIT,
            labels=labels(self.tag),
            stdin_open=False,
            tty=False,
        )
        return ContainerRun(container, output)


#: Processes a container may hold at once: a fork bomb in card work stops there.
PIDS_LIMIT = 4096


def labels(tag: Tag) -> dict[str, str]:
    """The labels that tie a container to its board, card and run."""
    return {LABEL: tag.board, "hermes.card": str(tag.card), "hermes.run": str(tag.run)}


class ContainerRun:
    """One started container: its output pumped into a sink, its exit awaited by a
    thread (the SDK's calls block), removed once it has ended or been killed."""

    def __init__(self, container: Any, output: Sink) -> None:
        self._container, self._output = container, output
        self._ended = threading.Event()
        self._code: int | None = None
        self._lock = threading.Lock()
        self._removed = False
        container.start()
        stream = container.logs(stream=True, follow=True, stdout=True, stderr=True)
        self._pump = threading.Thread(
            target=_pump, args=(stream, output), name="container-output", daemon=True
        )
        self._pump.start()
        threading.Thread(target=self._wait, name="container-wait", daemon=True).start()

    @property
    def group(self) -> None:
        """No host process group: the container is the daemon's (labels find it)."""
        return None

    def _wait(self) -> None:
        try:
            status = self._container.wait()
            code = int(status.get("StatusCode", -1))
        except Exception:  # the daemon went away or the container was removed: killed
            code = -9
        self._code = -(code - 128) if code > 128 else code  # 137 -> -9, as a local kill
        self._pump.join(DRAIN)
        self._output.close()
        self._remove()
        self._ended.set()

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code once the container has ended and its output is written."""
        if not self._ended.wait(timeout):
            return None
        return self._code

    def kill(self) -> None:
        """Remove the container by force: every process in it is SIGKILLed at once."""
        self._remove()

    def _remove(self) -> None:
        with self._lock:
            if self._removed:
                return
            self._removed = True
        try:
            self._container.remove(force=True)
        except Exception:  # already gone; a dispatcher's sweep removes what is left
            pass


def _pump(stream: Iterator[bytes], sink: Sink) -> None:
    try:
        for chunk in stream:
            sink.write(chunk)
    except Exception:  # the container was removed under the stream: the output is over
        pass
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # the streaming response's connection
        sink.close()


def remove_orphans(docker_host: str | None, board: str, ended: EndedRuns) -> list[str]:
    """Remove the containers of `board`'s `ended` runs; returns their names
    (a dispatcher calls this at start-up and when it takes a run back)."""
    found = client(docker_host)
    removed = []
    try:
        # sparse: no inspection per container, which races with removals elsewhere
        listed = found.containers.list(all=True, sparse=True, filters={"label": f"{LABEL}={board}"})
        for container in listed:
            run = (container.attrs.get("Labels") or {}).get("hermes.run", "")
            if not (run.isdigit() and ended.ended(int(run))):
                continue
            try:
                container.remove(force=True)
            except Exception:  # removed meanwhile
                continue
            name = (container.attrs.get("Names") or [container.short_id])[0].lstrip("/")
            removed.append(f"container {name} (run {run})")
    finally:
        found.close()
    return removed


def version(docker_host: str | None) -> str:
    """The daemon's version, for `hermes doctor`."""
    found = client(docker_host)
    try:
        return str(found.version().get("Version", "?"))
    finally:
        found.close()
