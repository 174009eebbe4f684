"""A card's workspace lock: `card-N.lock` beside its folder, held (`flock`) by the one run
working there. A worker takes it before touching the folder; whoever would remove or take
over a folder asks whether it is held. The kernel drops the lock when its holder dies, so
a dead worker never leaves it held; a frozen one keeps it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


def lock_file(workspace: Path) -> Path:
    """The lock file of the workspace folder `workspace`."""
    return workspace.with_name(f"{workspace.name}.lock")


def held(workspace: Path) -> bool:
    """Whether a live run holds the workspace's lock."""
    try:
        fd = os.open(lock_file(workspace), os.O_RDWR)
    except OSError:
        return False  # no lock file: no run ever held it, or it was tidied away
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
