"""Real dispatcher processes on one board, and a monkey that kills and freezes them and
their workers at random moments, always for a bounded time.

At least one dispatcher is left running untouched at every moment: the guarantees under
test (a dead worker's card is taken back within its lease) need someone to take it.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


@dataclass
class Dispatcher:
    """One dispatcher slot: its current process, and whether it is frozen or dead."""

    index: int
    proc: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    frozen_until: float | None = None  # monotonic time to send SIGCONT
    restart_at: float | None = None  # monotonic time to start it again
    #: the process groups of its host's workers, frozen with it: thawed by group, since a
    #: worker may be killed while frozen, and a child it was forking (not yet a program of
    #: its own, holding the worker's files and locks) must not stay stopped for ever
    frozen_groups: list[tuple[int, int]] = field(default_factory=list)  # (group, session)

    @property
    def host(self) -> str:
        """The host identity of this slot when every slot is a host of its own."""
        return f"host-{self.index}"

    @property
    def healthy(self) -> bool:
        """Running and not frozen."""
        return self.proc is not None and self.proc.poll() is None and self.frozen_until is None


@dataclass
class Fleet:
    """The dispatchers sharing the board, started with the same settings."""

    home: Path
    count: int
    args: list[str]
    env: dict[str, str]
    #: each dispatcher a host of its own: its HERMES_HOST and HERMES_HOME (logs,
    #: worktrees), the board shared through HERMES_DB_URL in `env`
    hosts: bool = False
    slots: list[Dispatcher] = field(default_factory=list)
    starts: int = 0

    def home_of(self, slot: Dispatcher) -> Path:
        """The slot's HERMES_HOME."""
        return self.home / slot.host if self.hosts else self.home

    def start_all(self) -> None:
        """Start every slot that has no running process."""
        if not self.slots:
            self.slots = [Dispatcher(i) for i in range(self.count)]
        for slot in self.slots:
            if slot.proc is None or slot.proc.poll() is not None:
                self.start(slot)

    def start(self, slot: Dispatcher) -> None:
        """A new dispatcher process in this slot, its output kept in a log file."""
        self.starts += 1
        if slot.log is not None:
            slot.log.close()
        slot.log = (self.home / f"dispatcher-{slot.index}.log").open("ab")
        env = {**os.environ, **self.env, "HERMES_HOME": str(self.home_of(slot))}
        if self.hosts:
            env["HERMES_HOST"] = slot.host
        slot.proc = subprocess.Popen(
            [sys.executable, "-m", "hermes", "dispatcher", "start", *self.args],
            stdout=slot.log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its group: the dispatcher and its worker template
        )
        slot.frozen_until = slot.restart_at = None
        slot.frozen_groups = []

    def healthy(self) -> list[Dispatcher]:
        """The slots running unfrozen now."""
        return [slot for slot in self.slots if slot.healthy]

    def settle(self, now: float) -> None:
        """Thaw the frozen and restart the dead whose time has come."""
        for slot in self.slots:
            if slot.frozen_until is not None and now >= slot.frozen_until:
                thaw(slot)
            if slot.restart_at is not None and now >= slot.restart_at:
                self.start(slot)

    def recover(self) -> None:
        """Thaw everything and restart every dead dispatcher now."""
        for slot in self.slots:
            if slot.frozen_until is not None:
                thaw(slot)
        self.start_all()

    def stop(self, timeout: float = 30) -> list[int | None]:
        """SIGTERM every dispatcher and wait; returns their exit codes (None: killed)."""
        codes: list[int | None] = []
        for slot in self.slots:
            if slot.proc is not None and slot.proc.poll() is None:
                slot.proc.send_signal(signal.SIGTERM)
        for slot in self.slots:
            if slot.proc is None:
                codes.append(None)
                continue
            try:
                codes.append(slot.proc.wait(timeout=timeout))
            except subprocess.TimeoutExpired:
                signal_group(slot, signal.SIGKILL)
                slot.proc.wait()
                codes.append(None)
            if slot.log is not None:
                slot.log.close()
        return codes

    def kill_everything(self) -> None:
        """Last resort on the way out of a failed run: no process outlives the test."""
        for slot in self.slots:
            _continue(slot.frozen_groups)
            if slot.proc is not None and slot.proc.poll() is None:
                signal_group(slot, signal.SIGCONT)
                signal_group(slot, signal.SIGKILL)
                slot.proc.wait()
            if slot.log is not None:
                slot.log.close()


def thaw(slot: Dispatcher) -> None:
    """SIGCONT a frozen dispatcher and the workers of its host frozen with it."""
    signal_group(slot, signal.SIGCONT)
    _continue(slot.frozen_groups)
    slot.frozen_until, slot.frozen_groups = None, []


def _continue(groups: list[tuple[int, int]]) -> None:
    """SIGCONT process groups (group, session) frozen earlier, whether or not their
    leaders still live, but only while the group is still in the session it was frozen
    in (a group id can be reused, never by a process of that session: ours)."""
    for group, session in groups:
        if session not in _sessions_of(group):
            continue
        try:
            os.killpg(group, signal.SIGCONT)
        except (ProcessLookupError, PermissionError):
            pass


def _sessions_of(group: int) -> set[int]:
    """The sessions of the processes now in process group `group`."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:
            found.add(int(fields[3]))
    return found


def _session(pid: int) -> int | None:
    """The session of `pid` (None: it is gone)."""
    try:
        return os.getsid(pid)
    except ProcessLookupError:
        return None


def _signal_process_group(pid: int, sig: signal.Signals) -> int | None:
    """Signal a worker (or card command) and its process group, if it is ours; returns
    the group signalled (None: only the process, or nothing)."""
    if not ours(pid):
        return None
    try:
        group = os.getpgid(pid)
        if group == os.getpgrp():  # never our own group
            _signal(pid, sig)
            return None
        os.killpg(group, sig)
        return group
    except (ProcessLookupError, PermissionError):
        _signal(pid, sig)
        return None


def signal_group(slot: Dispatcher, sig: signal.Signals) -> None:
    """Signal a dispatcher's process group (the dispatcher and its worker template)."""
    if slot.proc is None:
        return
    try:
        os.killpg(slot.proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def ours(pid: int) -> bool:
    """Only ever signal our own processes: workers (forked from `workers.template`),
    dispatchers, and the card commands they run."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read()
    except OSError:
        return False
    return any(mark in command for mark in (b"workers.template", b"hermes", b"out/card-"))


@dataclass
class Monkey:
    """Picks a random victim and a random fault every fraction of a second."""

    fleet: Fleet
    db: Path | str  # the board: a SQLite file or a board URL
    rng: random.Random
    lease: float
    actions: Counter[str] = field(default_factory=Counter)
    frozen_workers: dict[int, float] = field(default_factory=dict)  # pid -> thaw time
    hit: set[int] = field(default_factory=set)  # every worker pid killed or frozen
    #: Faults are spread over the work: a card hit this often is spared (on a narrow tail
    #: of the board, the few cards left would otherwise be hit on every attempt, until
    #: they ran out of attempts: what a 1,000-card run did to four of them).
    spare_after: int = 10
    faults: Counter[int] = field(default_factory=Counter)  # faults per card

    def act(self) -> None:
        """One fault, chosen by weight among those that apply now."""
        now = time.monotonic()
        choice = self.rng.choices(
            ("kill worker", "freeze worker", "kill dispatcher", "freeze dispatcher"),
            weights=(4, 3, 1, 1),
        )[0]
        if choice.endswith("worker"):
            victim = self._live_worker()
            if victim is None:
                return
            pid, card = victim
            self.hit.add(pid)
            self.faults[card] += 1
            if choice == "kill worker":
                _signal(pid, signal.SIGKILL)
            else:
                _signal(pid, signal.SIGSTOP)
                self.frozen_workers[pid] = now + self.rng.uniform(0.2, 2.5 * self.lease)
        else:
            healthy = self.fleet.healthy()
            if len(healthy) < 2:  # always leave one dispatcher doing its job
                return
            slot = self.rng.choice(healthy)
            if self.fleet.hosts and any(
                self.faults[card] >= self.spare_after
                for _, card in self._live_workers(f"host = '{slot.host}'")
            ):
                return
            sig = signal.SIGKILL if choice == "kill dispatcher" else signal.SIGSTOP
            signal_group(slot, sig)  # first, so it forks no worker after the look below
            if self.fleet.hosts:  # the whole host: its dispatcher and all its workers
                choice = choice.replace("dispatcher", "host")
                workers = self._live_workers(f"host = '{slot.host}'")
                groups = []
                for pid, card in workers:
                    group = _signal_process_group(pid, sig)
                    if group is not None:
                        groups += [(group, session)] if (session := _session(pid)) else []
                    self.hit.add(pid)
                    self.faults[card] += 1
                if sig == signal.SIGSTOP:
                    slot.frozen_groups = groups
            if sig == signal.SIGKILL:
                assert slot.proc is not None
                slot.proc.wait(timeout=30)  # reap it
                slot.restart_at = now + self.rng.uniform(0.3, 3.0)
            else:
                slot.frozen_until = now + self.rng.uniform(0.3, 2.5 * self.lease)
        self.actions[choice] += 1

    def settle(self, everything: bool = False) -> None:
        """Thaw frozen workers and dispatchers whose time is up (all of them if asked)."""
        now = float("inf") if everything else time.monotonic()
        for pid, until in list(self.frozen_workers.items()):
            if now >= until:
                _signal(pid, signal.SIGCONT)
                del self.frozen_workers[pid]
        if everything:
            self.fleet.recover()
        else:
            self.fleet.settle(now)

    def _live_worker(self) -> tuple[int, int] | None:
        """A live worker (pid, card) that is not frozen and whose card is not spared."""
        found = [
            (pid, card)
            for pid, card in self._live_workers()
            if pid not in self.frozen_workers and self.faults[card] < self.spare_after
        ]
        return self.rng.choice(found) if found else None

    def _live_workers(self, where: str = "TRUE") -> list[tuple[int, int]]:
        """The live runs (matching `where`) whose workers are our processes: (pid, card)."""
        from tests.chaos.invariants import read_only

        cx = read_only(self.db)
        try:
            rows = cx.execute(
                "SELECT pid, card_id FROM runs"
                f" WHERE outcome = 'running' AND pid IS NOT NULL AND {where}"
            ).fetchall()
        finally:
            cx.close()
        return [(pid, card) for pid, card in rows if ours(pid)]


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
