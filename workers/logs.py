"""Where each run's output goes: `$HERMES_HOME/logs/card-<id>/run-<run id>.log`.

The worker writes its own progress lines and the runner's output into the same file, so
`hermes board log` shows one readable transcript, and a crashed run's output survives.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import BinaryIO

_RUN = re.compile(r"run-(\d+)\.log")


def run_log(logs_dir: Path, card_id: int, run_id: int) -> Path:
    """The log file of one run."""
    return logs_dir / f"card-{card_id}" / f"run-{run_id}.log"


def open_log(path: Path) -> BinaryIO:
    """Open a run's log (or transcript) for appending: private to the user (0600), in a
    folder only the user can enter (0700)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    return os.fdopen(fd, "ab")


def card_logs(logs_dir: Path, card_id: int) -> list[Path]:
    """Every run log of a card, oldest run first."""
    folder = logs_dir / f"card-{card_id}"
    if not folder.is_dir():
        return []
    found = [(int(m[1]), p) for p in folder.iterdir() if (m := _RUN.fullmatch(p.name))]
    return [path for _, path in sorted(found)]


def tail(path: Path, start: int, size: int = 4096) -> str:
    """The last `size` bytes written to `path` after offset `start`, as text."""
    with path.open("rb") as handle:
        end = handle.seek(0, 2)
        handle.seek(max(start, end - size))
        return handle.read().decode("utf-8", errors="replace")
