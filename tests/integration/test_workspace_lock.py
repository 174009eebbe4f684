"""A workspace is never handed to a second live run: the first run's lock holds it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from board import NewCard, Store
from hermes.errors import HermesError
from tests.conftest import T0
from workers import workspace


@pytest.mark.engines("sqlite")  # a workspace lock is a file lock; the board only records it
def test_a_locked_workspace_is_refused_until_its_holder_dies(
    store: Store, hermes_home: Path
) -> None:
    card_id, _ = store.add_card(NewCard("c", "shell", 3), T0)
    card = store.card(card_id)
    lock = hermes_home / "workspaces" / f"card-{card_id}.lock"
    lock.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import fcntl, os, time; fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        started = time.monotonic()
        with pytest.raises(HermesError, match="in use by another live run"):
            workspace.prepare(card, store)
        assert time.monotonic() - started >= workspace.LOCK_WAIT
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout:
            holder.stdout.close()
    space = workspace.prepare(card, store)  # the lock died with its process
    assert space.path == hermes_home / "workspaces" / f"card-{card_id}"
