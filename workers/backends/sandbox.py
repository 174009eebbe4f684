"""The `sandbox` backend: card work in a bubblewrap sandbox on this host.

Inside, the whole filesystem is read-only except the card's workspace; `$HOME`, `/home`,
`/root`, `$HERMES_HOME` (the board, logs, other cards), `/run` (the Docker socket, the
session bus) and `/tmp` are replaced by empty private directories; the network is
unshared (only a private loopback) unless the profile says `network: true`. The work runs
in its own PID namespace, so when its first process ends or is killed, everything it
started goes with it, background daemons included.

Tools installed under `$HOME` (pyenv, `~/.local/bin`, `~/.cargo/bin`...) are found
through `PATH`: the top-level directory holding each `PATH` entry under `$HOME` is put
back read-only, unless it is one of the places secrets live (`~/.ssh`, `~/.aws`, ...).
The card's repository's `.git` directory (found by the worker from the card's repo, never
from the workspace's `.git` file, which the work can rewrite) is put back read-only, so
`git status`, `diff` and `log` work inside while commits are left to hermes, outside,
after the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import BinaryIO

from workers.backends.local import PipedProcess

#: Never put back into a sandbox, even when `PATH` leads there.
SECRET_PLACES = (
    ".ssh", ".gnupg", ".aws", ".azure", ".config", ".kube", ".docker", ".netrc",
    ".git-credentials", ".password-store", ".pki", ".mozilla", ".local/share",
    ".hermes", ".npmrc", ".pypirc", ".terraform.d", ".vault-token",
)  # fmt: skip
HIDDEN = ("/home", "/root", "/run", "/tmp", "/var/tmp")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create a sandbox on this machine."""


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
        self.hide = hide  # extra places to hide, e.g. HERMES_HOME
        self.readonly = readonly  # put back read-only after hiding, e.g. the repo's .git

    def describe(self) -> str:
        """What the run log says about where the work runs."""
        net = "network on" if self.network else "network off"
        return f"sandbox (bubblewrap: only the workspace is writable, {net})"

    def start(
        self, argv: list[str], *, workspace: Path, env: dict[str, str], output: BinaryIO
    ) -> PipedProcess:
        """Start `argv` inside a new sandbox around `workspace`."""
        inner = {**env, "TMPDIR": "/tmp"}
        command = self.wrap(argv, workspace, inner)
        return PipedProcess(command, workspace, inner, output)

    def wrap(self, argv: list[str], workspace: Path, env: dict[str, str]) -> list[str]:
        """The bwrap command line that runs `argv` contained."""
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise SandboxUnavailable(
                "bubblewrap (bwrap) is not installed; install it (Debian/Ubuntu: "
                "apt install bubblewrap) or give the profile `backend: local`"
            )
        home = Path(env.get("HOME") or Path.home())
        workspace = workspace.resolve()
        args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        for place in _hidden(home, self.hide):
            args += ["--tmpfs", str(place)]
        for place in self._exposed(home, env):
            args += ["--ro-bind-try", str(place), str(place)]
        for place in self.readonly:
            args += ["--ro-bind", str(place), str(place)]
        args += ["--bind", str(workspace), str(workspace), "--chdir", str(workspace)]
        args += ["--unshare-all", "--die-with-parent", "--new-session"]
        if self.network:
            args += ["--share-net"]
            args += ["--ro-bind-try", "/run/systemd/resolve", "/run/systemd/resolve"]
        return [*args, "--", *argv]

    def _exposed(self, home: Path, env: dict[str, str]) -> list[Path]:
        """Read-only places under the hidden directories that tools need back."""
        wanted = [Path(entry) for entry in env.get("PATH", "").split(os.pathsep) if entry]
        wanted += [Path(sys.prefix), Path(sys.base_prefix)]
        found: list[Path] = []
        for path in wanted:
            place = _to_expose(path, home, self.hide)
            if place is not None and place not in found:
                found.append(place)
        return found + [p for p in self.expose if p not in found]


def _hidden(home: Path, extra: tuple[Path, ...]) -> list[Path]:
    """Places replaced by empty private directories, parents before children."""
    places = [Path(p) for p in HIDDEN] + [home, *extra]
    return sorted({p.resolve() for p in places if p.exists()}, key=lambda p: len(p.parts))


def _to_expose(path: Path, home: Path, hide: tuple[Path, ...]) -> Path | None:
    """What to put back, read-only, for a tool directory that the sandbox hides: under a
    home directory, its top-level folder there (~/.pyenv for ~/.pyenv/shims; ~/.local/bin
    for ~/.local/bin), elsewhere (/tmp/venv/bin) the directory itself. None when nothing
    needs putting back, or when that would show a secret or hermes' own state."""
    try:
        resolved = path.resolve(strict=True)
    except OSError:
        return None
    if any(resolved.is_relative_to(p.resolve()) for p in hide):
        return None
    user_home = _user_home(resolved, home.resolve())
    if user_home is None:
        hidden = any(resolved.is_relative_to(p) for p in HIDDEN)
        return resolved if hidden else None
    parts = resolved.relative_to(user_home).parts
    if not parts:
        return None  # a home itself is never put back
    top = user_home / parts[0]
    if parts[0] == ".local" and len(parts) > 1:
        top = top / parts[1]
    relative = top.relative_to(user_home).as_posix()
    if any(relative == s or relative.startswith(s + "/") for s in SECRET_PLACES):
        return None
    return top


def _user_home(path: Path, home: Path) -> Path | None:
    """The home directory `path` lies in: $HOME, /root or /home/<user>."""
    if path.is_relative_to(home) and path != home:
        return home
    if path.is_relative_to("/root"):
        return Path("/root")
    if path.is_relative_to("/home") and len(path.parts) > 2:
        return Path("/home", path.parts[2])
    return None


@cache
def probe() -> str | None:
    """None when this machine can sandbox, else why not (said by `hermes doctor` and in
    the run log of a card whose profile asks for the sandbox)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed (Debian/Ubuntu: apt install bubblewrap)"
    try:
        proc = subprocess.run(
            [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
             "--unshare-all", "--die-with-parent", "--", "true"],
            capture_output=True,
            timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap cannot run: {exc}"
    if proc.returncode != 0:
        reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"bwrap cannot create a sandbox here: {reason[-1] if reason else proc.returncode}"
    return None
