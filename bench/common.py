"""What every benchmark shares: the row it reports, run sizes, timing and process helpers."""

from __future__ import annotations

import os
import sqlite3
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

ROOT = Path(__file__).resolve().parent.parent

#: `smoke` is for the test that the benchmarks run, `quick` for a check by hand (about a
#: minute for everything), `full` for the figures in docs/performance.md.
Size = Literal["smoke", "quick", "full"]
SIZES: tuple[Size, ...] = ("smoke", "quick", "full")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Row:
    """One figure, next to a reference measured in the same run (or a stated setting).

    `ratio` is always `value / reference`, in the same unit: above 1 means more (time or
    throughput) than the reference.
    """

    section: str
    measure: str
    value: float
    unit: str
    reference: float | None = None
    reference_is: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.reference is None or self.reference == 0:
            return None
        return self.value / self.reference

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def fmt(value: float) -> str:
    """A figure with about three significant digits (thousands separated)."""
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}" if size >= 0.01 else f"{value:.2g}"


def pick(size: Size, smoke: T, quick: T, full: T) -> T:
    """The parameter for this run size."""
    return {"smoke": smoke, "quick": quick, "full": full}[size]


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def latency_rows(
    section: str,
    measure: str,
    seconds: Sequence[float],
    reference: Sequence[float] | float,
    reference_is: str,
    goal: str = "",
) -> list[Row]:
    """The p50 and p99 rows of a latency (`seconds`), in milliseconds, each next to the
    same percentile of `reference` samples (seconds) or a fixed reference in
    milliseconds (a setting); `goal` is noted on the p99 row."""
    rows = []
    for p in (50, 99):
        fixed = isinstance(reference, float | int)
        against = reference if fixed else percentile(reference, p) * 1e3
        value = percentile(seconds, p) * 1e3
        note = goal if p == 99 else ""
        rows.append(Row(section, f"{measure}, p{p}", value, "ms", against, reference_is, note))
    return rows


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_time(fn: Callable[[], object], runs: int) -> float:
    """Median seconds of `runs` calls."""
    return median([timed(fn) for _ in range(runs)])


def wait_for(check: Callable[[], T | None], timeout: float = 60) -> T:
    """Poll `check` every 10 ms until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"benchmark gave up waiting after {timeout:g}s")
        time.sleep(0.01)
    return value


def hermes_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for a `hermes` process on the board in `home` (no HERMES_* leaks in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERMES_")}
    return {**env, "HERMES_HOME": str(home), **extra}


def time_command(args: list[str], env: dict[str, str], runs: int) -> float:
    """Median wall time of a command, in seconds (its output is discarded)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, env=env, stdout=subprocess.DEVNULL, check=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return median(times)


def raw_commit_pairs_per_second(path: Path, pairs: int) -> float:
    """The store's floor: pairs of BEGIN IMMEDIATE / UPDATE / COMMIT with plain sqlite3,
    WAL and synchronous=FULL, on the disk `path` is on (a claim and a complete are two
    such write transactions)."""
    cx = sqlite3.connect(path, isolation_level=None)
    try:
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
        return pairs / (time.perf_counter() - start)
    finally:
        cx.close()
