"""Scaling: how the cost of the hot operations grows with the number of cards on the board.

For each size a realistic board is built through the store itself: nine cards in ten are
history (done over the past 30 days, some after a dependency, a few cancelled), the rest
live (ready cards of mixed priority, cards waiting on one or two live cards, a little
backlog) with 8 runs in progress. Then, with `synchronous=FULL` as in production:

- one claim and one complete (median of several), the worker hot path, each against a
  raw sqlite3 commit timed between them on the same disk; and the same pair with
  synchronous=OFF: the store's own work, without the fsync that dominates and blurs the
  FULL figures;
- one dispatcher wake: the store reads `dispatcher.loop` makes on every wake (due cron
  jobs, live runs, running per profile, next deadline), without the claim, which is
  timed on its own; and the idle check a `--until-idle` dispatcher adds to each wake;
- `store.list_cards` of the default view (live cards, finished ones of the last day) and
  of the whole board, and `hermes board list --json --all` as a command.

Run with `python -m bench scaling`; `--plot` draws the log-log figure.
"""

from __future__ import annotations

import random
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import (
    Row,
    Size,
    fmt,
    hermes_env,
    median,
    median_time,
    pick,
    time_command,
)
from board import CardFilter, NewCard, Store, open_store
from board.clock import utcnow
from dispatcher.cron import fire_due

SECTION = "scaling"
RUNNING = 8
HISTORY_DAYS = 30
LABELS: tuple[list[str], ...] = ([], [], ["bug"], ["docs"], ["ci", "nightly"])
PROFILES = ("shell", "shell", "default")
BETWEEN = "one raw sqlite3 commit, timed between these"

#: (key, label, unit, multiplier from seconds) in display order.
MEASURES: tuple[tuple[str, str, str, float], ...] = (
    ("commit", "raw sqlite3 commit (reference)", "ms", 1e3),
    ("claim", "claim one card", "ms", 1e3),
    ("complete", "complete one card", "ms", 1e3),
    ("cycle_cpu", "claim+complete, synchronous=OFF", "ms", 1e3),
    ("wake", "dispatcher wake (store reads)", "ms", 1e3),
    ("idle", "idle check (--until-idle wakes)", "ms", 1e3),
    ("list_live", "store.list_cards, default view", "ms", 1e3),
    ("list_all", "store.list_cards, whole board", "ms", 1e3),
    ("cli_all", "hermes board list --json --all", "ms", 1e3),
)


@dataclass(slots=True)
class Point:
    """The measures on a board of `cards` cards, in seconds."""

    cards: int
    by_status: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"cards": self.cards, "by_status": self.by_status, "seconds": self.seconds}


def build(path: Path, cards: int) -> None:
    """A realistic board of `cards` cards (see the module docstring), built quickly."""
    rng = random.Random(cards)
    store = open_store(f"sqlite:///{path}", synchronous="OFF")
    try:
        history = cards * 9 // 10
        now = utcnow()
        start = now - timedelta(days=HISTORY_DAYS)
        step = timedelta(days=HISTORY_DAYS) / max(history, 1)
        done: list[int] = []
        for n in range(history):
            _history_card(store, rng, n, start + step * n, done)
        live: list[int] = []
        for n in range(cards - history):
            live.append(_live_card(store, rng, n, now, done, live))
        for _ in range(RUNNING):
            store.claim(now, 3600, worker="bench", host="bench")
    finally:
        store.close()
    # Built without fsync: put it all on disk now, or the first timed commits would wait
    # for the kernel to write back the whole build.
    cx = sqlite3.connect(path)
    try:
        cx.execute("PRAGMA synchronous=FULL")
        cx.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        cx.close()


def _history_card(store: Store, rng: random.Random, n: int, at: datetime, done: list[int]) -> None:
    after = [rng.choice(done[-50:])] if done and rng.random() < 0.3 else []
    card = NewCard(
        f"old card {n}",
        rng.choice(PROFILES),
        3,
        body="make it so",
        labels=rng.choice(LABELS),
        after=after,
    )
    card_id, _ = store.add_card(card, at)
    if rng.random() < 0.03:
        store.cancel(card_id, at, reason="not needed")
        return
    claim = store.claim(at, 60)  # the only ready card at this moment
    assert claim is not None and claim.card_id == card_id
    store.complete(claim.run_id, at + timedelta(seconds=1), result="ok")
    done.append(card_id)


def _live_card(
    store: Store, rng: random.Random, n: int, now: datetime, done: list[int], live: list[int]
) -> int:
    kind = rng.random()
    after: list[int] = []
    if kind < 0.5 and live:  # waiting on one or two live cards
        after = rng.sample(live[-200:], min(len(live[-200:]), rng.choice((1, 2))))
    elif done and rng.random() < 0.3:
        after = [rng.choice(done)]
    card = NewCard(
        f"card {n}",
        rng.choice(PROFILES),
        3,
        body="make it so",
        priority=rng.randint(0, 4),
        labels=rng.choice(LABELS),
        after=after,
        backlog=0.5 <= kind < 0.6,
    )
    return store.add_card(card, now)[0]


def wake(store: Store, now: datetime) -> None:
    """The store reads every dispatcher wake makes, as `dispatcher.loop` makes them (fire
    due cron jobs, live runs to reclaim, running per profile, the next deadline); the
    claim is timed on its own, the idle check of `--until-idle` too."""
    fire_due(store, now)
    store.live_runs()
    store.running_by_profile()
    store.next_deadline(now)


class RawCommit:
    """The reference for one claim or complete: one BEGIN IMMEDIATE / UPDATE / COMMIT with
    plain sqlite3 (WAL, synchronous=FULL) on the same disk."""

    def __init__(self, path: Path) -> None:
        self.cx = sqlite3.connect(path, isolation_level=None)
        self.cx.execute("PRAGMA journal_mode=WAL")
        self.cx.execute("PRAGMA synchronous=FULL")
        self.cx.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
        self.cx.execute("INSERT INTO t VALUES (1, 0)")

    def once(self) -> float:
        """Seconds one raw write transaction takes."""
        start = time.perf_counter()
        self.cx.execute("BEGIN IMMEDIATE")
        self.cx.execute("UPDATE t SET v = v + 1 WHERE id = 1")
        self.cx.execute("COMMIT")
        return time.perf_counter() - start

    def close(self) -> None:
        self.cx.close()


def measure(workdir: Path, cards: int, samples: int, runs: int) -> Point:
    """Build a board of `cards` cards and time every measure on it."""
    home = workdir / f"scale-{cards}"
    db = home / "board.db"
    build(db, cards)
    store = open_store(f"sqlite:///{db}")  # synchronous=FULL, as in production
    raw = RawCommit(home / "raw.db")  # same disk, timed between the store's commits
    try:
        by_status = store.stats(utcnow())["by_status"]
        point = Point(cards, {k: v for k, v in by_status.items() if v})
        claims, claim_times, raw_times = [], [], []
        for _ in range(samples):
            raw_times.append(raw.once())
            start = time.perf_counter()
            claim = store.claim(utcnow(), 60)
            claim_times.append(time.perf_counter() - start)
            assert claim is not None, "the board ran out of ready cards"
            claims.append(claim)
        complete_times = []
        for claim in claims:
            raw_times.append(raw.once())
            start = time.perf_counter()
            store.complete(claim.run_id, utcnow(), result="ok")
            complete_times.append(time.perf_counter() - start)
        point.seconds["claim"] = median(claim_times)
        point.seconds["complete"] = median(complete_times)
        point.seconds["commit"] = median(raw_times)
        point.seconds["wake"] = median_time(lambda: wake(store, utcnow()), samples)
        point.seconds["idle"] = median_time(store.is_idle, samples)
        point.seconds["list_live"] = median_time(
            lambda: store.list_cards(CardFilter(), utcnow()), runs
        )
        point.seconds["list_all"] = median_time(
            lambda: store.list_cards(CardFilter(include_old=True), utcnow()), runs
        )
    finally:
        store.close()
        raw.close()
    point.seconds["cycle_cpu"] = _cycles_without_fsync(db, min(samples, 10))
    hermes = [sys.executable, "-m", "hermes", "board", "list", "--json", "--all"]
    point.seconds["cli_all"] = time_command(hermes, hermes_env(home), runs)
    return point


def _cycles_without_fsync(db: Path, samples: int) -> float:
    """Median claim+complete cycle with synchronous=OFF: the store's own work, the part
    that could grow with the board (the fsync of the FULL figures does not)."""
    store = open_store(f"sqlite:///{db}", synchronous="OFF")
    try:
        times = []
        for _ in range(samples):
            start = time.perf_counter()
            claim = store.claim(utcnow(), 60)
            assert claim is not None, "the board ran out of ready cards"
            store.complete(claim.run_id, utcnow(), result="ok")
            times.append(time.perf_counter() - start)
        return median(times)
    finally:
        store.close()


def run(workdir: Path, size: Size) -> tuple[list[Row], list[Point]]:
    """Rows for the main table (the largest board against the smallest, or a claim and a
    complete against raw commits), and every point."""
    sizes = pick(size, (500, 1000), (1000, 5000), (1000, 10_000, 100_000))
    samples = pick(size, 4, 15, 15)
    points = [measure(workdir, n, samples, 1 if n >= 100_000 else 3) for n in sizes]
    small, big = points[0], points[-1]
    fewer = f"the same on {small.cards:,} cards ({big.cards // small.cards}x fewer)"
    rows = []
    for key, label, unit, scale in MEASURES:
        if key == "commit":
            continue
        reference, reference_is = small.seconds[key], fewer
        if key in ("claim", "complete"):
            reference, reference_is = big.seconds["commit"], BETWEEN
        rows.append(
            Row(
                SECTION,
                f"{label}, {big.cards:,} cards",
                big.seconds[key] * scale,
                unit,
                reference * scale,
                reference_is,
            )
        )
    return rows, points


def table(points: list[Point]) -> list[str]:
    """The scaling figures as aligned text lines: one column per board size."""
    head = ["measure", *[f"{p.cards:,} cards" for p in points]]
    body = [
        [f"{label} ({unit})", *[fmt(p.seconds[key] * scale) for p in points]]
        for key, label, unit, scale in MEASURES
    ]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = []
    for r in [head, *body]:
        cells = [
            r[0].ljust(widths[0]),
            *[c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)],
        ]
        lines.append("  ".join(cells))
    return lines


def plot(points: list[Point], path: Path) -> bool:
    """Draw the log-log figure; False (with a note printed) if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no plot: matplotlib is missing; pip install -e '.[bench]'")
        return False
    xs = [p.cards for p in points]
    fig, ax = plt.subplots(figsize=(8.0, 4.2), dpi=110)
    for key, label, _unit, _scale in MEASURES:
        ys = [p.seconds[key] * 1e3 for p in points]
        if key == "commit":
            ax.plot(xs, ys, "--", color="black", linewidth=0.8, label=label)
        else:
            ax.plot(xs, ys, marker="o", label=label)
    first = points[0].seconds["list_all"] * 1e3
    ax.plot(xs, [first * x / xs[0] for x in xs], ":", color="grey", label="proportional to cards")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(xs, [f"{x // 1000:,}k" if x >= 1000 else str(x) for x in xs])
    ax.minorticks_off()
    ax.set_xlabel("cards on the board")
    ax.set_ylabel("time of one operation (ms)")
    ax.set_title("Cost against board size (synchronous=FULL)", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return True
