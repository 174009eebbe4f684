"""Dispatch benchmarks: end-to-end throughput of trivial cards, start latency of a card
added to an idle dispatcher, a `true` card end to end against spawning `true`, reclaim
times after kill -9 and SIGSTOP, idle cost; and what the sandbox backend costs, the same
cards run in bubblewrap against the same cards run locally.

Each figure is reported beside a reference measured in the same run (the cost of merely
spawning the processes a card needs) or beside the setting that bounds it (the poll
interval, the lease). Run with `python -m bench dispatch`.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

from bench.common import Row, Size, hermes_env, median, percentile, pick, wait_for
from board import NewCard, Store, open_store
from board.clock import parse_iso, utcnow

SECTION = "dispatch"
#: What the command runner starts for a card whose body is `true`.
CARD_PROCESS = ["bash", "-euo", "pipefail", "-c", "true"]
POLL_MS = 20.0  # dispatcher.loop.Settings.poll


class Board:
    """A fresh HERMES_HOME with a `bench` profile (command runner) allowing 8 workers, on
    the `local` backend unless another is named."""

    def __init__(self, root: Path, backend: str = "local") -> None:
        self.home = root
        (root / "profiles").mkdir(parents=True)
        (root / "profiles" / "bench.yaml").write_text(
            f"runner: command\nconcurrency: 8\nmax_attempts: 3\ntimeout: 600\nbackend: {backend}\n"
        )
        self.store = open_store(f"sqlite:///{root / 'board.db'}")
        self.env = hermes_env(root)

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

    def is_done(self, card_id: int) -> bool:
        return self.store.card(card_id).status == "done"

    def event_time(self, card_id: int, kind: str) -> float | None:
        for event in self.store.detail(card_id).events:
            if event.kind == kind:
                return parse_iso(event.at).timestamp()
        return None

    def since_created(self, card_id: int, kind: str) -> float:
        created = parse_iso(self.store.card(card_id).created_at).timestamp()
        return (self.event_time(card_id, kind) or created) - created

    def close(self) -> None:
        self.store.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def throughput(
    workdir: Path, cards: int, backend: str = "local", tag: str | None = None
) -> tuple[float, float, float]:
    """Trivial cards per minute at concurrency 8: (first claim to last completion, wall),
    and the CPU seconds one card cost, every process counted (dispatcher, worker
    template, workers, the card's bash). `tag` names a backend given as a block."""
    board = Board(workdir / f"throughput-{tag or backend}", backend)
    ids = board.add("true", cards)
    start, before = time.monotonic(), children_cpu()
    proc = board.dispatcher("--until-idle", "--concurrency", "8")
    proc.wait(timeout=600)
    wall, cpu = time.monotonic() - start, children_cpu() - before
    first = min(t for i in ids if (t := board.event_time(i, "claimed")) is not None)
    last = max(t for i in ids if (t := board.event_time(i, "completed")) is not None)
    board.close()
    return cards / (last - first) * 60, cards / wall * 60, cpu / cards


def spawns_per_minute(argv: list[str], n: int) -> tuple[float, float]:
    """How many `argv` processes per minute this machine starts back to back, and the
    CPU seconds one costs."""
    start, before = time.monotonic(), children_cpu()
    for _ in range(n):
        subprocess.run(argv, check=True)
    return n / (time.monotonic() - start) * 60, (children_cpu() - before) / n


def latency(
    workdir: Path, samples: int, backend: str = "local", tag: str | None = None
) -> dict[str, list[float]]:
    """Created -> claimed, -> worker started, -> done, for `true` cards added one at a time
    to an idle dispatcher whose fallback tick is 30 s (so only change detection wakes it).
    The first card is added the moment the dispatcher is on the board (`first_*`: what a
    person who starts a dispatcher and adds a card at once waits), the others after it
    idled half a second."""
    board = Board(workdir / f"latency-{tag or backend}", backend)
    proc = board.dispatcher("--tick", "30")
    wait_for(lambda: board.store.dispatchers(utcnow()))
    out: dict[str, list[float]] = {}
    for n in range(samples + 1):
        (card,) = board.add("true")
        wait_for(partial(board.is_done, card))
        for kind in ("claimed", "started", "completed"):
            key = f"first_{kind}" if n == 0 else kind
            out.setdefault(key, []).append(board.since_created(card, kind))
        time.sleep(0.5 if n == 0 else 0.05)
    stop(proc)
    board.close()
    return out


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children and theirs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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
        pid = wait_for(partial(live_worker, board.store, card))
        sent = time.time()
        os.killpg(pid, sig)
        wait_for(partial(board.event_time, card, "reclaimed"), timeout=lease * 3)
        times.append((board.event_time(card, "reclaimed") or 0) - sent)
        board.store.cancel(card, utcnow())
    stop(proc)
    board.close()
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
    board.close()
    return result


def run(workdir: Path, size: Size) -> list[Row]:
    """All dispatch figures, each next to its reference."""
    cards = pick(size, 40, 150, 1000)
    samples, rounds = pick(size, (5, 1), (20, 1), (100, 5))
    idle = pick(size, 1.0, 2.0, 10.0)

    per_min, wall_per_min, card_cpu = throughput(workdir, cards)
    spawn, spawn_cpu = spawns_per_minute(CARD_PROCESS, pick(size, 20, 50, 200))
    spawn_is = "`bash -euo pipefail -c true` spawns back to back (the card's own process)"
    rows = [
        Row(SECTION, f"`true` cards, concurrency 8, {cards:,} cards", per_min, "/min",
            spawn, spawn_is),
        Row(SECTION, "  including dispatcher start-up and exit", wall_per_min, "/min",
            spawn, spawn_is),
        Row(SECTION, "  CPU per card, all processes (start-up included)",
            card_cpu * 1e3, "ms", spawn_cpu * 1e3, "CPU of one `bash -euo pipefail -c true`"),
    ]  # fmt: skip
    times = latency(workdir, samples)
    rows += latency_rows(times, size)
    killed = reclaim_after(workdir, "kill", signal.SIGKILL, 60.0, rounds)
    rows.append(
        Row(
            SECTION,
            "reclaim after kill -9 of a worker, median",
            median(killed) * 1e3,
            "ms",
            60_000.0,
            "the lease (setting; not waited for: the exit is seen at once)",
        )
    )
    frozen = reclaim_after(workdir, "stop", signal.SIGSTOP, 2.0, rounds)
    rows.append(
        Row(
            SECTION,
            "reclaim after SIGSTOP of a worker, median",
            median(frozen),
            "s",
            2.0,
            "the lease (setting), part of which had already run",
            f"max {max(frozen):.2f} s over {rounds}",
        )
    )

    cpu, rss, template = idle_cost(workdir, idle)
    rows.append(Row(SECTION, "idle dispatcher CPU", cpu, "% core"))
    rows.append(Row(SECTION, "idle dispatcher RSS", rss, "MiB"))
    rows.append(Row(SECTION, "idle worker template RSS", template, "MiB"))
    return rows + sandbox_cost(workdir, size, per_min, times["completed"])


def latency_rows(times: dict[str, list[float]], size: Size) -> list[Row]:
    """Created -> claimed (beside the poll interval), -> worker started, -> done (beside
    spawning `true`); and the same for the first card after the dispatcher started."""
    poll = "the change-detection poll interval (setting)"
    rows = []
    for name, kind in (("claimed", "claimed"), ("worker started", "started")):
        ref = POLL_MS if kind == "claimed" else None
        for p in (50, 99):
            value = percentile(times[kind], p) * 1e3
            rows.append(Row(SECTION, f"created -> {name}, idle, 30 s tick, p{p}", value, "ms",
                            ref, poll if ref else ""))  # fmt: skip
        first = times[f"first_{kind}"][0] * 1e3
        later = percentile(times[kind], 50) * 1e3
        rows.append(Row(SECTION, f"  first card after start-up: created -> {name}", first, "ms",
                        later, "the p50 above (later cards)"))  # fmt: skip
    direct = median([_spawn_once(["true"]) for _ in range(pick(size, 10, 30, 100))]) * 1e3
    for p in (50, 99):
        value = percentile(times["completed"], p) * 1e3
        rows.append(Row(SECTION, f"command runner: `true` card, created -> done, p{p}", value,
                        "ms", direct, "subprocess.run(['true']), median"))  # fmt: skip
    return rows


def sandbox_cost(
    workdir: Path, size: Size, local_per_min: float, local_done: list[float]
) -> list[Row]:
    """The same trivial cards in the bubblewrap sandbox, against the local figures above."""
    from workers.backends import probe

    if probe() is not None:
        return []  # no sandbox on this machine: nothing to compare
    cards = pick(size, 40, 150, 1000)
    per_min, _, _ = throughput(workdir, cards, "sandbox")
    done = latency(workdir, pick(size, 5, 20, 100), "sandbox")["completed"]
    local = "the same cards on the local backend, this run"
    return [
        Row(SECTION, f"sandbox: `true` cards, concurrency 8, {cards:,} cards", per_min, "/min",
            local_per_min, local),
        Row(SECTION, "sandbox: `true` card, created -> done, p50", percentile(done, 50) * 1e3,
            "ms", percentile(local_done, 50) * 1e3, local),
    ]  # fmt: skip


def _spawn_once(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - start
