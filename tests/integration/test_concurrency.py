"""Many processes claiming from one board: each card exactly once, no lock errors."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from board import CardFilter, NewCard, Store
from board.sqlite import SqliteDatabase
from hermes.errors import HermesError, StorageError
from tests.conftest import T0
from tests.helpers.processes import hold_write_lock

PROCESSES = 8
#: 2,000 on PostgreSQL: where a naive port of the claim made 6,918 runs for 2,000 cards
CARDS = {"sqlite": 1000, "postgres": 2000}


def test_eight_processes_claim_every_card_exactly_once(
    store: Store, db_url: str, tmp_path: Path, engine: str
) -> None:
    total = CARDS[engine]
    for n in range(total):
        store.add_card(NewCard(f"card {n}", "shell", 3, priority=n % 7), T0)
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.claimer", db_url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    go.touch()
    results = [proc.communicate(timeout=300) for proc in procs]
    errors = [err for _, err in results if err.strip()]
    assert errors == [], errors[0]  # no `database is locked` (or anything else) escaped
    assert [proc.returncode for proc in procs] == [0] * PROCESSES
    claimed = [card for out, _ in results for card in json.loads(out)]
    assert len(claimed) == total
    assert sorted(claimed) == list(range(1, total + 1))
    assert sum(1 for out, _ in results if json.loads(out)) > 1  # the work really was shared
    cards = store.list_cards(CardFilter(include_old=True), T0)
    assert {card.status for card in cards} == {"done"}
    runs = store.db.cx.execute(
        "SELECT count(*), count(DISTINCT card_id) FROM runs WHERE outcome = 'done'"
    ).fetchone()
    assert tuple(runs) == (total, total)  # no double claim
    orphans = store.db.cx.execute("SELECT count(*) FROM runs WHERE outcome <> 'done'").fetchone()
    assert orphans[0] == 0  # and no run left behind by a claim that lost a race


def test_a_writer_waits_for_the_write_lock_in_steps_and_gives_up_at_its_timeout(
    tmp_path: Path,
) -> None:
    """Writers wait for SQLite's write lock in their own fine steps, not SQLite's busy
    handler: through a hold shorter than the timeout they write; past it they fail with
    the board's error and write nothing; either way the connection's own timeout (which
    its other statements use) is as it was."""
    path = tmp_path / "board.db"
    patient = SqliteDatabase(path, busy_timeout=10)
    with patient.write() as cx:
        cx.execute("CREATE TABLE t (x INTEGER)")
    holder = hold_write_lock(path, 0.5)
    with patient.write() as cx:
        cx.execute("INSERT INTO t VALUES (1)")
    assert holder.wait(timeout=10) == 0  # it let go first
    impatient = SqliteDatabase(path, busy_timeout=0.3)
    holder = hold_write_lock(path, 30)
    try:
        with pytest.raises(StorageError, match="database is locked"), impatient.write() as cx:
            cx.execute("INSERT INTO t VALUES (2)")
    finally:
        holder.kill()
        holder.wait()
    assert patient.cx.tuples("SELECT x FROM t").fetchall() == [(1,)]
    for db, timeout_ms in ((patient, 10_000), (impatient, 300)):
        assert db.cx.execute("PRAGMA busy_timeout").fetchone()[0] == timeout_ms
        assert not db.cx.in_transaction


def test_a_new_board_opened_by_several_connections_at_once_opens_for_all(
    tmp_path: Path,
) -> None:
    """`hermes up` starts the dispatcher, the gateway and the web server at once on a new
    home: each opens the new board and switches it to WAL. SQLite refuses the second
    switch at once (waiting could deadlock); it must try again, not fail with `database
    is locked`. The race is narrow, so it is run many times."""
    failures: list[str] = []

    def open_it(path: Path, start: threading.Barrier) -> None:
        start.wait()
        try:
            SqliteDatabase(path).close()
        except HermesError as exc:
            failures.append(str(exc))

    for board in range(400):
        path = tmp_path / f"board-{board}.db"
        start = threading.Barrier(6)
        openers = [threading.Thread(target=open_it, args=(path, start)) for _ in range(6)]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join()
    assert failures == []
