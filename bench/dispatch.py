"""Dispatch benchmarks: end-to-end throughput of trivial cards, start latency of a card
added to an idle dispatcher, reclaim times after kill -9 and SIGSTOP, idle cost.

Each figure is printed beside a reference measured in the same run: the cost of merely
spawning the processes a card needs, the poll interval, the lease.

    python bench/dispatch.py           # full run (about a minute and a half)
    python bench/dispatch.py --quick   # smaller sizes
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from board import NewCard, Store, open_store  # noqa: E402
from board.clock import parse_iso, utcnow  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Board:
    """A fresh HERMES_HOME with a `bench` profile allowing 8 workers."""

    def __init__(self, root: Path) -> None:
        self.home = root
        (root / "profiles").mkdir(parents=True)
        (root / "profiles" / "bench.yaml").write_text(
            "runner: command\nconcurrency: 8\nmax_attempts: 3\ntimeout: 600\n"
        )
        self.url = f"sqlite:///{root / 'board.db'}"
        self.store = open_store(self.url)
        self.env = {**os.environ, "HERMES_HOME": str(root)}

    def add(self, body: str, n: int = 1) -> list[int]:
        now = utcnow()
        return [
            self.store.add_card(NewCard(f"c{i}", "bench", 3, body=body), now)[0] for i in range(n)
        ]

    def dispatcher(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "hermes", "dispatcher", "start", *args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )

    def event_time(self, card_id: int, kind: str) -> float | None:
        for event in self.store.detail(card_id).events:
            if event.kind == kind:
                return parse_iso(event.at).timestamp()
        return None


def wait_for(check: Callable[[], object], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(check)
        time.sleep(0.01)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def throughput(workdir: Path, cards: int) -> tuple[float, float]:
    """Trivial cards per minute at concurrency 8: (first claim to last completion, wall)."""
    board = Board(workdir / "throughput")
    ids = board.add("true", cards)
    start = time.monotonic()
    proc = board.dispatcher("--until-idle", "--concurrency", "8")
    proc.wait(timeout=600)
    wall = time.monotonic() - start
    first = min(t for i in ids if (t := board.event_time(i, "claimed")) is not None)
    last = max(t for i in ids if (t := board.event_time(i, "completed")) is not None)
    return cards / (last - first) * 60, cards / wall * 60


def spawn_reference(n: int = 50) -> float:
    """How many `bash -c true` processes per minute this machine starts back to back."""
    start = time.monotonic()
    for _ in range(n):
        subprocess.run(["bash", "-c", "true"], check=True)
    return n / (time.monotonic() - start) * 60


def latency(workdir: Path, samples: int) -> tuple[list[float], list[float]]:
    """Created -> claimed and created -> worker started, for cards added to an idle
    dispatcher whose fallback tick is 30 s (so only the change detection can wake it)."""
    board = Board(workdir / "latency")
    proc = board.dispatcher("--tick", "30")
    wait_for(lambda: board.store.dispatchers(utcnow()))
    time.sleep(0.5)
    claimed, started = [], []
    for _ in range(samples):
        (card,) = board.add("true")
        wait_for(lambda card=card: board.store.card(card).status == "done")
        created = parse_iso(board.store.card(card).created_at).timestamp()
        claimed.append((board.event_time(card, "claimed") or 0) - created)
        started.append((board.event_time(card, "started") or 0) - created)
        time.sleep(0.05)
    stop(proc)
    return claimed, started


def live_worker(store: Store, card: int) -> int | None:
    for run in store.detail(card).runs:
        if run.outcome == "running" and run.pid and run.runner_pid:
            return run.pid
    return None


def reclaim_after(
    workdir: Path, name: str, sig: signal.Signals, lease: float, rounds: int
) -> list[float]:
    """Seconds from the signal to the `reclaimed` event."""
    board = Board(workdir / name)
    proc = board.dispatcher("--heartbeat", str(lease / 4), "--lease", str(lease), "--tick", "1")
    times = []
    for _ in range(rounds):
        (card,) = board.add("sleep 60")
        wait_for(lambda card=card: live_worker(board.store, card))
        pid = live_worker(board.store, card)
        assert pid is not None
        sent = time.time()
        os.killpg(pid, sig)
        wait_for(lambda card=card: board.event_time(card, "reclaimed"), timeout=lease * 3)
        times.append((board.event_time(card, "reclaimed") or 0) - sent)
        board.store.cancel(card, utcnow())
    stop(proc)
    return times


def idle_cost(workdir: Path, seconds: float) -> tuple[float, float, float]:
    """Idle dispatcher: CPU percent of one core, its RSS and its template's RSS (MiB)."""
    board = Board(workdir / "idle")
    proc = board.dispatcher("--tick", "5")
    wait_for(lambda: board.store.dispatchers(utcnow()))
    time.sleep(1)
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu(pid: int) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    def rss(pid: int) -> float:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    before, start = cpu(proc.pid), time.monotonic()
    time.sleep(seconds)
    used = cpu(proc.pid) - before
    result = (used / (time.monotonic() - start) * 100, rss(proc.pid), rss(int(children[0])))
    stop(proc)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the boards")
    opts = parser.parse_args()
    cards, samples, rounds, idle = (200, 20, 2, 3.0) if opts.quick else (1000, 100, 5, 10.0)
    workdir = Path(tempfile.mkdtemp(prefix="hermes-dispatch-bench-", dir=opts.dir))
    rows: list[tuple[str, str, str]] = []

    per_min, wall_per_min = throughput(workdir, cards)
    spawn = spawn_reference()
    rows.append(
        (
            f"trivial cards/min, concurrency 8 ({cards} cards)",
            f"{per_min:,.0f}",
            f"{spawn:,.0f} bash -c true spawns/min, back to back ({per_min / spawn:.2f}x)",
        )
    )
    rows.append(("  including dispatcher start-up and exit", f"{wall_per_min:,.0f}", ""))

    claimed, started = latency(workdir, samples)
    rows.append(
        (
            "created -> claimed, idle, 30 s tick: p50 / p99 (ms)",
            f"{percentile(claimed, 50) * 1e3:.0f} / {percentile(claimed, 99) * 1e3:.0f}",
            "20 ms: the change-detection poll interval",
        )
    )
    rows.append(
        (
            "created -> worker started: p50 / p99 (ms)",
            f"{percentile(started, 50) * 1e3:.0f} / {percentile(started, 99) * 1e3:.0f}",
            "",
        )
    )

    killed = reclaim_after(workdir, "kill", signal.SIGKILL, 60.0, rounds)
    rows.append(
        (
            "reclaim after kill -9 of a worker (ms, median)",
            f"{statistics.median(killed) * 1e3:.0f}",
            "60 s: the lease (not needed: the exit is seen at once)",
        )
    )
    frozen = reclaim_after(workdir, "stop", signal.SIGSTOP, 2.0, rounds)
    rows.append(
        (
            "reclaim after SIGSTOP, lease 2 s (s, median / max)",
            f"{statistics.median(frozen):.2f} / {max(frozen):.2f}",
            "2 s lease + up to one heartbeat (0.5 s) already elapsed",
        )
    )

    cpu, rss, template = idle_cost(workdir, idle)
    rows.append(("idle dispatcher CPU (% of one core)", f"{cpu:.1f}", ""))
    rows.append(("idle dispatcher / worker template RSS (MiB)", f"{rss:.0f} / {template:.0f}", ""))

    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value':>12}  reference")
    for name, value, reference in rows:
        print(f"{name.ljust(width)}  {value:>12}  {reference}")
    print(f"\n({os.cpu_count()} CPUs; boards in {workdir.parent})")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
