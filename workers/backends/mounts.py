"""What a sandbox hides, and what it puts back read-only so ordinary tools still work.

Hidden (replaced by empty private directories): every home (`$HOME`, `/home`, `/root`),
`/tmp`, `/var/tmp`, `/run` and `/var/run` (the Docker socket, session buses), and the
places hermes names (its own state). Put back read-only: the toolchains programs are
run from. A `PATH` entry inside a known toolchain root under a home (`~/.pyenv`,
`~/.cargo`, `~/.nvm`, `~/.local/bin`...) brings back that root, because its shims and
binaries reach across it; any other hidden `PATH` entry brings back only itself (or,
for a virtual environment's `bin`, the environment). Nothing that holds or contains a
place where secrets live is ever put back, and credential files inside a toolchain root
(`~/.cargo/credentials.toml`) are covered by an empty file.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HIDDEN = ("/home", "/root", "/run", "/var/run", "/tmp", "/var/tmp")
#: Folders under a home that hold a toolchain whose parts call each other.
TOOLCHAINS = (
    ".pyenv", ".rbenv", ".nodenv", ".goenv", ".nvm", ".cargo", ".rustup", ".sdkman",
    ".bun", ".deno", ".volta", ".asdf", ".poetry", ".juliaup", ".elan", ".ghcup", ".opam",
    ".dotnet", "go", ".local/bin", ".local/lib", ".local/pipx",
)  # fmt: skip
#: Never put back, nor anything that contains them.
SECRET_PLACES = (
    ".ssh", ".gnupg", ".aws", ".azure", ".config", ".kube", ".docker", ".netrc",
    ".git-credentials", ".password-store", ".pki", ".mozilla", ".local/share", ".hermes",
    ".npmrc", ".pypirc", ".terraform.d", ".vault-token", ".gitconfig", ".bash_history",
    ".zsh_history", ".python_history", ".psql_history", ".mysql_history", ".pgpass",
    ".my.cnf", ".s3cfg", ".boto", ".gem/credentials",
)  # fmt: skip
#: Credential files inside toolchain roots: covered by an empty file.
SECRET_FILES = (".cargo/credentials", ".cargo/credentials.toml")


def hidden(home: Path, extra: tuple[Path, ...]) -> list[Path]:
    """Places replaced by empty private directories, parents before children."""
    places = [Path(p) for p in HIDDEN] + [home, *extra]
    found = {p.resolve() for p in places if p.exists()}
    return sorted(found, key=lambda p: len(p.parts))


def exposed(home: Path, env: dict[str, str], hide: tuple[Path, ...]) -> list[Path]:
    """Read-only places under the hidden directories that card work's tools need."""
    wanted = [Path(entry) for entry in env.get("PATH", "").split(os.pathsep) if entry]
    wanted += [Path(sys.prefix), Path(sys.base_prefix)]
    found: list[Path] = []
    for path in wanted:
        place = _to_expose(path, home.resolve(), hide)
        if place is not None and place not in found:
            found.append(place)
    return found


def covered(places: list[Path], home: Path) -> list[Path]:
    """Credential files inside the places put back: each gets an empty file on top."""
    files = []
    for place in places:
        user_home = _user_home(place, home.resolve())
        for name in SECRET_FILES:
            candidate = user_home / name if user_home else None
            if candidate and candidate.is_file() and candidate.is_relative_to(place):
                files.append(candidate)
    return files


def _to_expose(path: Path, home: Path, hide: tuple[Path, ...]) -> Path | None:
    try:
        resolved = path.resolve(strict=True)
    except OSError:
        return None
    if not any(resolved.is_relative_to(p) for p in (*HIDDEN, str(home))):
        return None  # not hidden: nothing to put back
    if any(resolved.is_relative_to(p.resolve()) for p in hide):
        return None
    user_home = _user_home(resolved, home)
    place = resolved if user_home is None else _within_home(resolved, user_home)
    return None if place is None or _holds_secrets(place, user_home) else place


def _within_home(path: Path, user_home: Path) -> Path | None:
    relative = path.relative_to(user_home).as_posix()
    for root in TOOLCHAINS:
        if relative == root or relative.startswith(root + "/"):
            return user_home / root
    if not relative or relative == ".":
        return None  # a home itself is never put back
    if path.name == "bin" and (path.parent / "pyvenv.cfg").is_file():
        return path.parent  # a virtual environment: its bin needs its lib
    return path


def _holds_secrets(place: Path, user_home: Path | None) -> bool:
    """Whether `place` is, is inside, or contains a place where secrets live."""
    if user_home is None:
        return False
    relative = place.relative_to(user_home).as_posix()
    for secret in SECRET_PLACES:
        if relative == secret or relative.startswith(secret + "/"):
            return True
        if secret.startswith(relative + "/"):
            return True
    return False


def _user_home(path: Path, home: Path | None = None) -> Path | None:
    """The home directory `path` lies in: $HOME, /root or /home/<user>."""
    if home is not None and path.is_relative_to(home):
        return home
    if path.is_relative_to("/root"):
        return Path("/root")
    if path.is_relative_to("/home") and len(path.parts) > 2:
        return Path("/home", path.parts[2])
    return None
