"""Board benchmarks: claim+complete throughput against raw SQLite, incremental promotion,
listing a big board and the start-up cost of `hermes board add`.

Every figure is printed next to a reference measured in the same run on the same disk,
so the ratio means something even on a noisy shared machine:

    python bench/board.py            # full run (about a minute)
    python bench/board.py --quick    # smaller sizes, for a smoke check
    python bench/board.py --dir PATH # put the databases on the disk you care about
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from board import CardFilter, NewCard, Store, open_store  # noqa: E402
from board import queries as q  # noqa: E402
from board.clock import utcnow  # noqa: E402


def raw_pairs_per_second(path: Path, pairs: int) -> float:
    """The floor: pairs of BEGIN IMMEDIATE / UPDATE / COMMIT with plain sqlite3."""
    cx = sqlite3.connect(path, isolation_level=None)
    cx.execute("PRAGMA journal_mode=WAL")
    cx.execute("PRAGMA synchronous=FULL")
    cx.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
    cx.executemany("INSERT INTO t VALUES (?, 0)", [(i,) for i in range(pairs)])
    start = time.perf_counter()
    for i in range(pairs):
        for _ in range(2):
            cx.execute("BEGIN IMMEDIATE")
            cx.execute("UPDATE t SET v = v + 1 WHERE id = ?", (i,))
            cx.execute("COMMIT")
    elapsed = time.perf_counter() - start
    cx.close()
    return pairs / elapsed


def store_cycles_per_second(path: Path, cycles: int) -> float:
    """What workers do: claim the best ready card, then complete it (with promotion)."""
    store = open_store(f"sqlite:///{path}")
    now = utcnow()
    for n in range(cycles):
        store.add_card(NewCard(f"card {n}", "shell", 3, priority=n % 5), now)
    start = time.perf_counter()
    for _ in range(cycles):
        claim = store.claim(now, 60)
        assert claim is not None
        store.complete(claim.run_id, now, result="ok")
    elapsed = time.perf_counter() - start
    store.close()
    return cycles / elapsed


def throughput(workdir: Path, n: int, rounds: int) -> tuple[float, float]:
    """Median of interleaved rounds, so both sides see the same machine weather."""
    raw, ours = [], []
    for r in range(rounds):
        raw.append(raw_pairs_per_second(workdir / f"raw{r}.db", n))
        ours.append(store_cycles_per_second(workdir / f"store{r}.db", n))
    return statistics.median(raw), statistics.median(ours)


def completion_with_waiting_backlog(path: Path, waiting: int, samples: int) -> tuple[float, float]:
    """Complete a card while `waiting` cards wait on something else: (complete ms, promote µs).

    The complete transaction includes its fsync; the promote figure is the incremental
    promotion statement alone, which is what grows with the backlog if done naively.
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
    complete_times = []
    for _ in range(samples):
        claim = store.claim(now, 60)
        assert claim is not None
        start = time.perf_counter()
        store.complete(claim.run_id, now)
        complete_times.append(time.perf_counter() - start)
    promote_times = [_promote_statement(store, card) for card in range(2, 2 + samples)]
    store.close()
    return statistics.median(complete_times) * 1e3, statistics.median(promote_times) * 1e6


def _promote_statement(store: Store, card_id: int) -> float:
    with store.db.read() as cx:
        start = time.perf_counter()
        cx.execute(q.PROMOTE_DEPENDENTS.replace("RETURNING id", ""), {"id": card_id, "now": ""})
        return time.perf_counter() - start


def big_board(path: Path, cards: int) -> Store:
    """`cards` cards in a realistic mix (chains every 10, some done), built quickly."""
    store = open_store(f"sqlite:///{path}", synchronous="OFF")
    now = utcnow()
    for n in range(cards):
        after = [n] if n % 10 and n else []
        store.add_card(NewCard(f"card {n}", "shell", 3, after=after, labels=["bulk"]), now)
    return store


def time_cli(args: list[str], home: Path, runs: int) -> float:
    """Median wall time of a `hermes` command, in seconds."""
    env = {**os.environ, "HERMES_HOME": str(home)}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, env=env, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the databases")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    opts = parser.parse_args()
    n, rounds = (300, 1) if opts.quick else (1000, 5)
    big = 10_000 if opts.quick else 100_000
    workdir = Path(tempfile.mkdtemp(prefix="hermes-bench-", dir=opts.dir))
    hermes = [sys.executable, "-m", "hermes"]
    rows: list[tuple[str, str, str, str]] = []

    raw, ours = throughput(workdir, n, rounds)
    pairs = f"{raw:,.0f} raw BEGIN IMMEDIATE/UPDATE/COMMIT pairs/s"
    rows.append(("claim+complete cycles/s (store)", f"{ours:,.0f}", pairs, f"{ours / raw:.2f}x"))

    complete_ms, promote_us = completion_with_waiting_backlog(workdir / "promote.db", 5000, 200)
    commit_ms = 1e3 / raw / 2
    rows.append(
        (
            "complete, 5,000 waiting cards (ms)",
            f"{complete_ms:.3f}",
            f"{commit_ms:.3f} ms: one raw commit",
            f"{complete_ms / commit_ms:.2f}x",
        )
    )
    rescan = "20,700 µs: full backlog rescan (seed system)"
    ratio = f"{promote_us / 20700:.4f}x"
    rows.append(("  promotion statement alone (µs)", f"{promote_us:.1f}", rescan, ratio))

    home = workdir / "home"
    store = big_board(home / "board.db", big)
    in_process = timed(lambda: store.list_cards(CardFilter(), utcnow()))
    store.close()
    baseline = time_cli([sys.executable, "-c", "pass"], home, 5)
    list_json = time_cli([*hermes, "board", "list", "--json"], home, 3)
    list_table = time_cli([*hermes, "board", "list"], home, 3)
    rows.append((f"board list, {big:,} cards: store (s)", f"{in_process:.2f}", "", ""))
    rows.append((f"hermes board list --json, {big:,} cards (s)", f"{list_json:.2f}", "", ""))
    rows.append((f"hermes board list (table), {big:,} cards (s)", f"{list_table:.2f}", "", ""))

    add_home = workdir / "add-home"
    time_cli([*hermes, "board", "add", "warm-up", "--no-repo"], add_home, 1)
    add = time_cli([*hermes, "board", "add", "timed", "--no-repo"], add_home, 15)
    python = f"{baseline * 1e3:.0f} ms: python -c pass"
    rows.append(
        ("hermes board add, wall (ms)", f"{add * 1e3:.0f}", python, f"{add / baseline:.1f}x")
    )

    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value':>10}  {'ratio':>8}  reference")
    for name, value, reference, ratio in rows:
        print(f"{name.ljust(width)}  {value:>10}  {ratio:>8}  {reference}")
    print(f"\n(synchronous=FULL; {os.cpu_count()} CPUs; databases in {workdir.parent})")
    if opts.keep:
        print(f"kept: {workdir}")
    else:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
