"""The `sandbox` backend: card work in a bubblewrap sandbox on this host.

Inside, the whole filesystem is read-only except the card's workspace; the homes,
`$HERMES_HOME` (the board, logs, other cards), `/run` (the Docker socket, the session
bus) and `/tmp` are replaced by empty private directories, with the toolchains card work
runs put back read-only (`workers.backends.mounts`). The network is a private loopback
only, unless the profile says `network: true`: then an outbound-only network through
slirp4netns (`workers.backends.network`), or the host's own where that is missing. The
work runs in its own PID namespace, so when its first process ends or is killed,
everything it started goes with it, background daemons included.

The card's repository's `.git` directory (found by the worker from the card's repo,
never from the workspace's `.git` file, which the work can rewrite) is put back
read-only, so `git status`, `diff` and `log` work inside while commits are left to
hermes, outside, after the run.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path

from workers.backends import mounts
from workers.backends.base import BackendUnavailable, Sink
from workers.backends.local import PipedProcess
from workers.backends.network import Outbound, slirp


class SandboxBackend:
    """Runs card work inside bubblewrap: only the workspace is writable."""

    kind = "sandbox"

    def __init__(
        self,
        *,
        network: bool = False,
        expose: tuple[str, ...] = (),
        hide: tuple[Path, ...] = (),
        readonly: tuple[Path, ...] = (),
    ) -> None:
        self.network = network
        self.expose = tuple(Path(p).expanduser() for p in expose)
        self.hide = hide  # more places to hide: HERMES_HOME, a board kept elsewhere
        self.readonly = readonly  # put back read-only after hiding: the repo's .git

    def describe(self) -> str:
        """What the run log says about where the work runs."""
        if not self.network:
            net = "network off"
        elif slirp() is not None:
            net = "outbound network only"
        else:
            net = "the host's network, local services included (install slirp4netns)"
        return f"sandbox (bubblewrap: only the workspace is writable, {net})"

    def start(
        self, argv: list[str], *, workspace: Path, env: dict[str, str], output: Sink
    ) -> PipedProcess:
        """Start `argv` inside a new sandbox around `workspace`."""
        inner = {**env, "TMPDIR": "/tmp"}
        outbound = Outbound() if self.network and slirp() is not None else None
        command = self.wrap(argv, workspace, inner, outbound)
        if outbound is None:
            return PipedProcess(command, workspace, inner, output)
        process = PipedProcess(
            command, workspace, inner, output, pass_fds=outbound.pass_fds, on_end=outbound.close
        )
        try:
            outbound.attach()
        except BaseException:
            process.kill()
            process.wait()
            raise
        return process

    def wrap(
        self, argv: list[str], workspace: Path, env: dict[str, str], outbound: Outbound | None
    ) -> list[str]:
        """The bwrap command line that runs `argv` contained."""
        home = Path(env.get("HOME") or Path.home())
        workspace = workspace.resolve()
        args = [_bwrap(), *BASE]
        for place in mounts.hidden(home, self.hide):
            args += ["--tmpfs", str(place)]
        back = mounts.exposed(home, env, self.hide) + list(self.expose)
        for place in back:
            args += ["--ro-bind-try", str(place), str(place)]
        for secret in mounts.covered(back, home):
            args += ["--ro-bind", "/dev/null", str(secret)]
        for place in self.readonly:
            args += ["--ro-bind", str(place), str(place)]
        args += ["--bind", str(workspace), str(workspace), "--chdir", str(workspace)]
        args += ["--unshare-all", "--die-with-parent", "--new-session"]
        if outbound is not None:
            args += outbound.bwrap_args()
        elif self.network:
            args += ["--share-net"]
            args += ["--ro-bind-try", "/run/systemd/resolve", "/run/systemd/resolve"]
        return [*args, "--", *argv]


BASE = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]


def _bwrap() -> str:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise BackendUnavailable(
            "bubblewrap (bwrap) is not installed; install it (Debian/Ubuntu: "
            "apt install bubblewrap) or give the profile `backend: local`"
        )
    return bwrap


@cache
def probe() -> str | None:
    """None when this machine can sandbox, else why not (said by `hermes doctor` and in
    the run log of a card whose profile asks for the sandbox)."""
    try:
        argv = [_bwrap(), *BASE, "--unshare-all", "--die-with-parent", "--", "true"]
        proc = subprocess.run(argv, capture_output=True, timeout=10)
    except BackendUnavailable as exc:
        return str(exc).split("; install", 1)[0]
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap cannot run: {exc}"
    if proc.returncode != 0:
        reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"bwrap cannot create a sandbox here: {reason[-1] if reason else proc.returncode}"
    return None
