"""Board benchmarks: claim+complete throughput against raw SQLite, incremental promotion
against a rescan of the waiting backlog, listing a big board, and the start-up cost of
`hermes board add`.

Run with `python -m bench board` (see `python -m bench --help`).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bench.common import (
    Row,
    Size,
    hermes_env,
    median,
    median_time,
    pick,
    raw_commit_pairs_per_second,
    time_command,
)
from board import CardFilter, NewCard, Store, open_store
from board import queries as q
from board.clock import utcnow

SECTION = "board"

#: The promotion the store does not do: rescan every waiting card for one whose
#: dependencies are all done (what a naive dispatcher tick would run on each completion).
RESCAN_WAITING = f"UPDATE cards SET status = 'ready', updated_at = :now WHERE status = 'waiting' AND {q._UNBLOCKED}"  # noqa: E501


def store_cycles_per_second(path: Path, cycles: int) -> float:
    """What workers do: claim the best ready card, then complete it (with promotion)."""
    store = open_store(f"sqlite:///{path}")
    try:
        now = utcnow()
        for n in range(cycles):
            store.add_card(NewCard(f"card {n}", "shell", 3, priority=n % 5), now)
        start = time.perf_counter()
        for _ in range(cycles):
            claim = store.claim(now, 60)
            assert claim is not None
            store.complete(claim.run_id, now, result="ok")
        return cycles / (time.perf_counter() - start)
    finally:
        store.close()


def throughput(workdir: Path, n: int, rounds: int) -> tuple[float, float]:
    """(raw pairs/s, store cycles/s): medians of interleaved rounds, so both sides see
    the same machine weather."""
    raw, ours = [], []
    for r in range(rounds):
        raw.append(raw_commit_pairs_per_second(workdir / f"raw{r}.db", n))
        ours.append(store_cycles_per_second(workdir / f"store{r}.db", n))
    return median(raw), median(ours)


def completion_with_waiting_backlog(
    path: Path, waiting: int, samples: int
) -> tuple[float, float, float]:
    """Complete a card while `waiting` cards wait on something else.

    Returns (complete ms, incremental promotion µs, rescan of the waiting backlog µs).
    The complete transaction includes its fsync; the promotion figures are the statements
    alone, which is what grows with the backlog if done naively.
    """
    store = open_store(f"sqlite:///{path}", synchronous="OFF")
    now = utcnow()
    blocker, _ = store.add_card(NewCard("never finishes", "shell", 3, backlog=True), now)
    for n in range(waiting):
        store.add_card(NewCard(f"waiting {n}", "shell", 3, after=[blocker]), now)
    for n in range(samples):
        first, _ = store.add_card(NewCard(f"work {n}", "shell", 3, priority=10), now)
        store.add_card(NewCard(f"next {n}", "shell", 3, after=[first]), now)
    store.close()
    store = open_store(f"sqlite:///{path}")  # back to synchronous=FULL for the measurement
    try:
        complete_times = []
        for _ in range(samples):
            claim = store.claim(now, 60)
            assert claim is not None
            start = time.perf_counter()
            store.complete(claim.run_id, now)
            complete_times.append(time.perf_counter() - start)
        incremental = q.PROMOTE_DEPENDENTS.replace("RETURNING id", "")
        promote = [_statement(store, incremental, card) for card in range(2, 2 + samples)]
        rescan = [_statement(store, RESCAN_WAITING, 0) for _ in range(min(samples, 20))]
    finally:
        store.close()
    return median(complete_times) * 1e3, median(promote) * 1e6, median(rescan) * 1e6


def _statement(store: Store, sql: str, card_id: int) -> float:
    """Seconds one promotion statement takes (it changes nothing: all are still blocked)."""
    with store.db.read() as cx:
        start = time.perf_counter()
        cx.execute(sql, {"id": card_id, "now": ""})
        return time.perf_counter() - start


def big_board(path: Path, cards: int) -> None:
    """`cards` cards in chains of ten (all unfinished: the worst case for a listing)."""
    store = open_store(f"sqlite:///{path}", synchronous="OFF")
    try:
        now = utcnow()
        for n in range(cards):
            after = [n] if n % 10 and n else []
            store.add_card(NewCard(f"card {n}", "shell", 3, after=after, labels=["bulk"]), now)
    finally:
        store.close()


def raw_select(path: Path) -> None:
    """The floor for a listing: fetch the same card rows with plain sqlite3."""
    import sqlite3

    cx = sqlite3.connect(path)
    try:
        cx.execute(f"SELECT {q.CARD_COLUMNS} FROM cards ORDER BY id").fetchall()
    finally:
        cx.close()


def listing(workdir: Path, cards: int, runs: int) -> list[Row]:
    """Listing a board of `cards` unfinished cards: the store, the CLI, raw sqlite3."""
    home = workdir / "list-home"
    db = home / "board.db"
    big_board(db, cards)
    store = open_store(f"sqlite:///{db}")
    try:
        in_process = median_time(lambda: store.list_cards(CardFilter(), utcnow()), runs)
    finally:
        store.close()
    raw = median_time(lambda: raw_select(db), runs)
    env = hermes_env(home)
    hermes = [sys.executable, "-m", "hermes"]
    as_json = time_command([*hermes, "board", "list", "--json"], env, runs)
    table = time_command([*hermes, "board", "list"], env, runs)
    store_is = "store.list_cards, in process"
    return [
        Row(
            SECTION,
            f"store.list_cards, {cards:,} cards",
            in_process,
            "s",
            raw,
            "raw sqlite3 fetchall of the same card rows",
        ),
        Row(
            SECTION,
            f"hermes board list --json, {cards:,} cards",
            as_json,
            "s",
            in_process,
            store_is,
        ),
        Row(
            SECTION, f"hermes board list (table), {cards:,} cards", table, "s", in_process, store_is
        ),
    ]


def board_add(workdir: Path, runs: int) -> Row:
    """Wall time of `hermes board add` on a warm board, against `python -c pass`."""
    env = hermes_env(workdir / "add-home")
    hermes = [sys.executable, "-m", "hermes"]
    time_command([*hermes, "board", "add", "warm-up", "--no-repo"], env, 1)
    add = time_command([*hermes, "board", "add", "timed", "--no-repo"], env, runs)
    python = time_command([sys.executable, "-c", "pass"], env, max(runs, 5))
    return Row(SECTION, "hermes board add, wall", add * 1e3, "ms", python * 1e3, "python -c pass")


def run(workdir: Path, size: Size) -> list[Row]:
    """All board figures, each next to its reference."""
    pairs, rounds = pick(size, (50, 1), (150, 3), (1000, 5))
    waiting, samples = pick(size, (500, 20), (2000, 100), (5000, 200))
    cards, list_runs = pick(size, (1000, 1), (10_000, 1), (100_000, 3))
    add_runs = pick(size, 3, 7, 15)

    raw, ours = throughput(workdir, pairs, rounds)
    rows = [
        Row(
            SECTION,
            "claim+complete cycles through the store",
            ours,
            "/s",
            raw,
            "raw sqlite3 BEGIN IMMEDIATE/UPDATE/COMMIT pairs (WAL, synchronous=FULL)",
        )
    ]
    complete_ms, promote_us, rescan_us = completion_with_waiting_backlog(
        workdir / "promote.db", waiting, samples
    )
    rows.append(
        Row(
            SECTION,
            f"complete one card, {waiting:,} cards waiting",
            complete_ms,
            "ms",
            1e3 / raw / 2,
            "one raw commit (from the pairs above)",
        )
    )
    rows.append(
        Row(
            SECTION,
            f"  promotion statement alone, {waiting:,} waiting",
            promote_us,
            "µs",
            rescan_us,
            "the same promotion by rescanning every waiting card",
        )
    )
    rows += listing(workdir, cards, list_runs)
    rows.append(board_add(workdir, add_runs))
    return rows
