"""The worker's heartbeat thread against a real board whose write lock another process
holds for longer than the lease."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from board import NewCard, Store
from board.clock import parse_iso, utcnow
from tests.helpers.processes import hold_write_lock, wait_until
from workers.heartbeat import Heartbeat


@pytest.mark.engines("sqlite")  # the stall is SQLite's write lock held by another process
def test_a_beat_that_waited_out_a_stall_is_renewed_at_once(
    store: Store, db_url: str, hermes_home: Path
) -> None:
    store.add_card(NewCard("a", "shell", 3), utcnow())
    claim = store.claim(utcnow(), 5)
    assert claim is not None
    lost: list[bool] = []
    beat = Heartbeat(db_url, claim.run_id, 1.0, 5.0, lambda: lost.append(True))
    beat.start()
    try:
        holder = hold_write_lock(hermes_home / "board.db", 6.0)  # longer than the lease
        assert holder.wait(timeout=30) == 0
        released = time.monotonic()

        def renewed() -> bool:
            run = store.run(claim.run_id)
            return run is not None and parse_iso(run.lease_expires_at) > utcnow()

        # the beat blocked for 6 s wrote a lease already over; the next beat, 1 s later
        # without the fix, would be too late for this
        wait_until(renewed, timeout=0.6, every=0.02)
        assert time.monotonic() - released < 0.6
        assert not lost and not beat.lost.is_set()
    finally:
        beat.stop()
