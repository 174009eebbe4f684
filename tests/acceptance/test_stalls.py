"""A board that stalls: some process holds SQLite's write lock for longer than a lease
(frozen mid-transaction, say). Nobody can write meanwhile, heartbeats included, so when
the lock comes back every lease looks expired; the dispatcher must not take the cards of
healthy workers away for it, while a dead worker's card is still taken back."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from board import Store, open_store
from tests.conftest import Cli, add
from tests.helpers.processes import (
    FAST,
    dispatcher,
    hold_write_lock,
    start_dispatcher,
    wait_until,
)


def runs_of(store: Store, card_id: int) -> list[str]:
    return [run.outcome for run in store.detail(card_id).runs]


def live_worker(store: Store, card_id: int) -> int | None:
    return next(
        (r.pid for r in store.detail(card_id).runs if r.outcome == "running" and r.runner_pid),
        None,
    )


def test_healthy_workers_keep_their_cards_through_a_stall(
    cli: Cli, db_url: str, hermes_home: Path
) -> None:
    slow = [add(cli, f"slow {n}", "--profile", "shell", "--body", "sleep 4") for n in range(2)]
    proc = start_dispatcher(*FAST)
    try:
        with open_store(db_url) as store:
            for card in slow:
                wait_until(lambda card=card: live_worker(store, card))
            holder = hold_write_lock(hermes_home / "board.db", 3.5)  # lease is 2 s
            assert holder.wait(timeout=20) == 0
            for card in slow:
                wait_until(lambda card=card: store.card(card).status == "done", timeout=20)
                assert runs_of(store, card) == ["done"]  # one attempt, never taken away
            assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert "the board or this dispatcher stalled" in out


def test_a_worker_that_died_during_a_stall_is_taken_back_when_it_ends(
    cli: Cli, db_url: str, hermes_home: Path
) -> None:
    card = add(
        cli,
        "victim",
        "--profile",
        "shell",
        "--body",
        "if [ -e first ]; then echo second; else touch first; sleep 30; fi",
    )
    with dispatcher(*FAST, "--lease", "30") as proc, open_store(db_url) as store:
        worker = wait_until(lambda: live_worker(store, card))
        holder = hold_write_lock(hermes_home / "board.db", 3)
        os.kill(worker, signal.SIGKILL)
        assert holder.wait(timeout=20) == 0
        wait_until(lambda: store.card(card).status == "done", timeout=10)
        assert runs_of(store, card) == ["reclaimed", "done"]
        assert proc.poll() is None
