"""Where hermes keeps its state: everything lives under one root, `HERMES_HOME`.

A single root with an environment override makes state easy to find, back up, and
isolate in tests (each test points `HERMES_HOME` at a temporary directory). The root is
private to the user (0700): it holds the board, run logs and transcripts, which can
contain anything card work printed. A home made before that is tightened when opened.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from hermes.errors import InvalidInput, StorageError

DEFAULT_HOME = "~/.hermes"


def this_host() -> str:
    """This machine's name as the board records it (runs, dispatchers, chat platforms):
    `$HERMES_HOST` when set, so tests and containers can give processes on one machine
    distinct host identities, else the system's host name. A run's pid means something
    only on its own host: reclaim by pid is judged there, other hosts go by the lease."""
    return os.environ.get("HERMES_HOST") or socket.gethostname()


def hermes_home() -> Path:
    """The state root: `$HERMES_HOME`, or `~/.hermes` when unset."""
    value = os.environ.get("HERMES_HOME") or DEFAULT_HOME
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInput(
            f"HERMES_HOME {value!r} contains a control character (a newline?); "
            "set it to a plain directory path"
        )
    return Path(value).expanduser()


def ensure_home() -> Path:
    """The state root, created private (0700) on first use and tightened if it is not."""
    home = ensure_dir(hermes_home(), mode=0o700)
    try:
        mode = home.stat().st_mode
        if mode & 0o077:
            home.chmod(mode & 0o700)  # others lose access; the owner's own bits stay
    except OSError:
        pass  # not ours to change (a shared, read-only home): it still works
    return home


def ensure_dir(path: Path, mode: int = 0o777) -> Path:
    """Create `path` (and parents) on first use, with an actionable error if we cannot."""
    try:
        path.mkdir(mode=mode, parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise StorageError(
            f"cannot create {path}: {reason}; set HERMES_HOME to a writable directory"
        ) from exc
    return path


def board_url() -> str:
    """The board database URL: `$HERMES_DB_URL`, or SQLite at `$HERMES_HOME/board.db`."""
    home = ensure_home()  # private even when the board lives elsewhere: logs are here
    url = os.environ.get("HERMES_DB_URL")
    if url:
        return url
    return f"sqlite:///{home / 'board.db'}"


def profiles_dir() -> Path:
    """User profiles: `$HERMES_HOME/profiles/<name>.yaml` add to or override built-ins."""
    return hermes_home() / "profiles"


def profile_cache_file() -> Path:
    """Validated profile fields, cached so `board add` need not load pydantic each time."""
    return hermes_home() / "cache" / "profiles.json"


def logs_dir() -> Path:
    """Run logs: `logs/card-<id>/run-<run id>.log`."""
    return hermes_home() / "logs"


def worktrees_dir() -> Path:
    """Git worktrees of cards with a repository."""
    return hermes_home() / "worktrees"


def workspaces_dir() -> Path:
    """Scratch directories of cards without a repository."""
    return hermes_home() / "workspaces"


def skills_dir() -> Path:
    """User skills: `skills/<name>/SKILL.md` add to or override the built-ins."""
    return hermes_home() / "skills"
