"""The dispatcher: wake on any change, reclaim, claim up to capacity, spawn workers.

It wakes the moment the board changes (another process's commit moves SQLite's
`data_version`, polled every few tens of milliseconds), when a worker exits, when the
next scheduled start or lease expiry comes due, and at the fallback tick. Each wake:

0. fire due cron jobs (each fire creates one card);
1. reclaim runs whose worker died or whose lease expired (killing what is left of them);
2. stop local workers whose runs a human cancelled;
3. claim ready cards up to the free capacity (global and per profile) and spawn workers.

Promotion needs no step here: finishing a card promotes its dependents in the same
transaction. Side tasks (board watch, worker exits, registry heartbeat) are named and
supervised: if one dies the dispatcher exits loudly (its running workers, like those of a
dispatcher that crashed, finish on their own). SIGINT/SIGTERM stop claiming, give
running workers `grace` seconds, then kill the rest and release their cards to `ready`.

Store calls run on one dedicated thread: one thread hop per transaction, and the SQLite
connection is only ever used from that thread.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from board import Backoff, CardDetail, Claim, Run, Status, Store, open_store
from board.clock import parse_iso, utcnow
from board.db import open_database
from dispatcher.cron import fire_due
from dispatcher.pool import WorkerPool
from dispatcher.processes import alive, describe_exit, kill_group
from dispatcher.reconcile import reconcile
from hermes.errors import HermesError
from hermes.paths import profiles_dir, worktrees_dir
from workers.job import WorkerJob

P = ParamSpec("P")
T = TypeVar("T")
HOST = socket.gethostname()
Report = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Settings:
    """How a dispatcher runs; the CLI flags of `hermes dispatcher start`."""

    concurrency: int = 4
    tick: float = 5.0
    heartbeat: float = 10.0
    lease: float = 60.0
    grace: float = 10.0
    until_idle: bool = False
    poll: float = 0.02
    backoff: Backoff = field(default_factory=Backoff)


@dataclass(slots=True)
class LocalWorker:
    """A worker this dispatcher started."""

    run_id: int
    card_id: int
    pid: int
    profile: str
    started: float


class Dispatcher:
    """One dispatcher process working one board."""

    def __init__(self, db_url: str, settings: Settings, report: Report | None = None) -> None:
        self.db_url = db_url
        self.settings = settings
        self.id = f"{HOST}:{os.getpid()}:{secrets.token_hex(2)}"
        self._report = report or (lambda _text: None)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="hermes-store")
        self._store: Store | None = None
        self._pools = {
            "light": WorkerPool(self._worker_exited, "light"),
            "agent": WorkerPool(self._worker_exited, "agent"),
        }
        self._sides: set[asyncio.Task[None]] = set()
        self._crash: asyncio.Future[asyncio.Task[None]] | None = None
        self._workers: dict[int, LocalWorker] = {}
        self._exiting: set[int] = set()  # runs whose worker exited; _after_exit handles them
        self._limits: dict[str, int] = {}
        self._runners: dict[str, str] = {}
        self._wake = asyncio.Event()
        self._followups: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._stop_now = False
        self.last_tick: datetime | None = None
        # Leases only prove a worker dead once the board and this process have run
        # smoothly for a whole lease: see `_unsteady`. A new dispatcher trusts them
        # (it times the write lock before acting on one).
        self._steady_since = time.monotonic() - settings.lease

    # -- plumbing ---------------------------------------------------------------------

    async def _call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        try:
            return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))
        finally:
            waited = time.monotonic() - started
            if waited > self._slack:
                self._unsteady(f"a board call took {waited:.1f}s")

    @property
    def _slack(self) -> float:
        """How long a worker can go unheard before its lease is in danger: half the gap
        between its heartbeat period and its lease."""
        return (self.settings.lease - self.settings.heartbeat) / 2

    def _unsteady(self, why: str) -> None:
        """The board or this process stalled (a process frozen holding the write lock,
        this dispatcher paused or the machine suspended): workers may have been unable
        to heartbeat, so their expired leases prove nothing until a whole lease has
        passed with the board writable again. Dead workers on this host are still taken
        back at once (their pids are gone)."""
        if time.monotonic() - self._steady_since >= self.settings.lease:
            self._report(
                f"{why}: the board or this dispatcher stalled; expired leases are "
                f"given {self.settings.lease:g}s to heartbeat before cards are taken back"
            )
        self._steady_since = time.monotonic()

    def _steady(self) -> bool:
        return time.monotonic() - self._steady_since >= self.settings.lease

    @property
    def store(self) -> Store:
        assert self._store is not None, "the dispatcher is not running"
        return self._store

    def request_stop(self) -> None:
        """Stop claiming and drain (a second request skips the grace period)."""
        if self._stopping:
            self._stop_now = True
        self._stopping = True
        self._wake.set()

    # -- the run ----------------------------------------------------------------------

    async def run(self) -> int:
        """Run until stopped (or idle with `until_idle`); returns the exit code."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.request_stop)
        try:
            self._store = await self._call(open_store, self.db_url)
            await self._call(self._load_profiles)
            now = utcnow()
            await self._call(
                self.store.register_dispatcher,
                self.id,
                now,
                host=HOST,
                pid=os.getpid(),
                concurrency=self.settings.concurrency,
            )
            removed = await self._call(reconcile, self.store, worktrees_dir())
            for path in removed:
                self._report(f"removed stale worktree {path}")
            await self._pools["light"].start()
            if await self._call(self._agent_work_waiting):
                self._start_agent_template()
            self._report(f"dispatcher {self.id} started (concurrency {self.settings.concurrency})")
            return await self._supervise()
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            await self._close()

    def _side(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Start a supervised side task: if it ever ends, the dispatcher stops loudly."""
        task = asyncio.create_task(coro, name=name)
        self._sides.add(task)

        def ended(done: asyncio.Task[None]) -> None:
            if self._crash is not None and not self._crash.done() and not done.cancelled():
                self._crash.set_result(done)

        task.add_done_callback(ended)

    async def _supervise(self) -> int:
        self._crash = asyncio.get_running_loop().create_future()
        dispatch = asyncio.create_task(self._dispatch(), name="dispatch")
        self._side(self._watch_board(), "board-watch")
        self._side(self._pools["light"].listen(), "worker-events")
        self._side(self._beat(), "registry-heartbeat")
        waiters: list[asyncio.Future[Any]] = [dispatch, self._crash]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        failure = self._crash.result() if self._crash.done() else None
        if failure is not None:
            # Stop loudly, like a crash: running workers are left to finish on their own.
            error = failure.exception()
            self._report(f"error: dispatcher task {failure.get_name()!r} stopped: {error!r}")
            self._stopping = True
            dispatch.cancel()
        else:
            self._crash.cancel()
        for task in self._sides:
            task.cancel()
        outcome, *_ = await asyncio.gather(dispatch, *self._sides, return_exceptions=True)
        if failure is None and isinstance(outcome, BaseException):
            raise outcome  # the dispatch loop itself failed: a bug, shown as one
        return 0 if failure is None else 1

    def _agent_profiles(self) -> set[str]:
        return {name for name, runner in self._runners.items() if runner == "agent"}

    def _agent_work_waiting(self) -> bool:
        """Whether unfinished cards of agent profiles are on the board (warm up early)."""
        return bool(self._agent_profiles() & self.store.unfinished_profiles())

    def _start_agent_template(self) -> None:
        """Start the agent worker template (it imports litellm: a few seconds, once)."""
        pool = self._pools["agent"]
        if pool.started:
            return
        pool.started = True

        async def warm_then_listen() -> None:
            await pool.start()
            self._report("agent worker template ready")
            self._wake.set()  # agent cards held back meanwhile can be claimed now
            await pool.listen()

        self._side(warm_then_listen(), "agent-worker-events")
        self._report("warming the agent worker template (litellm takes a few seconds)")

    async def _agent_profiles_not_warm(self) -> list[str]:
        """Agent profiles whose cards must not be claimed yet, warming up if they wait."""
        pool = self._pools["agent"]
        if pool.ready.is_set():
            return []
        agents = self._agent_profiles()
        if agents and not pool.started and agents & await self._call(self.store.ready_profiles):
            self._start_agent_template()
        return sorted(agents)

    async def _close(self) -> None:
        for pool in self._pools.values():
            await pool.close()
        if self._store is not None:
            await self._call(self.store.dispatcher_beat, self.id, utcnow(), stopped=True)
            await self._call(self.store.close)
        self._executor.shutdown(wait=True)

    # -- the loop ---------------------------------------------------------------------

    async def _dispatch(self) -> None:
        while not self._stopping:
            now = utcnow()
            for line in await self._call(fire_due, self.store, now):
                self._report(line)
            await self._reclaim(now)
            busy = self._workers or self._followups  # exits still being handled count
            if self.settings.until_idle and not busy and await self._call(self.store.is_idle):
                self._report("idle: nothing left that can run")
                break
            await self._claim()
            await self._sleep(now)
        await self._drain()

    async def _sleep(self, now: datetime) -> None:
        timeout = self.settings.tick
        if not self._steady():  # look at expired leases again as soon as it is
            timeout = min(timeout, self._steady_since + self.settings.lease - time.monotonic())
        deadline = await self._call(self.store.next_deadline, now)
        if deadline is not None:
            # a hair past the deadline, so the lease has really expired when we look
            timeout = min(timeout, (deadline - now).total_seconds() + 0.01)
        try:
            await asyncio.wait_for(self._wake.wait(), max(0.0, timeout))
        except TimeoutError:
            pass
        self._wake.clear()

    async def _watch_board(self) -> None:
        """Wake the loop whenever another process commits to the board."""
        db = open_database(self.db_url)
        try:
            seen = db.data_version()
            clock = time.monotonic(), time.time()
            while True:
                await asyncio.sleep(self.settings.poll)
                last, clock = clock, (time.monotonic(), time.time())
                late = max(clock[0] - last[0], clock[1] - last[1]) - self.settings.poll
                if late > self._slack:  # paused (SIGSTOP, suspend) or the loop was blocked
                    self._unsteady(f"this dispatcher was paused for {late:.1f}s")
                version = db.data_version()
                if version != seen:
                    seen = version
                    self._wake.set()
        finally:
            db.close()

    async def _beat(self) -> None:
        """Keep this dispatcher's registry entry fresh and profiles current."""
        while True:
            await asyncio.sleep(self.settings.tick)
            self.last_tick = utcnow()
            await self._call(self.store.dispatcher_beat, self.id, self.last_tick)
            await self._call(self._load_profiles)
            self._wake.set()

    def _load_profiles(self) -> None:
        from profiles import list_profiles

        try:
            profiles = [profile for profile, _ in list_profiles(profiles_dir())]
        except HermesError as exc:  # keep the last good limits; say what is wrong
            self._report(f"warning: {exc}")
            return
        self._limits = {p.name: p.concurrency for p in profiles}
        self._runners = {p.name: p.runner for p in profiles}

    # -- claiming ---------------------------------------------------------------------

    async def _claim(self) -> None:
        free = self.settings.concurrency - len(self._workers)
        if free <= 0 or self._stopping:
            return
        running = await self._call(self.store.running_by_profile)
        cold = await self._agent_profiles_not_warm()
        while free > 0 and not self._stopping:
            full = [name for name, limit in self._limits.items() if running.get(name, 0) >= limit]
            full += cold  # agent cards wait (unclaimed, so no lease runs) until litellm is warm
            claim = await self._call(self._claim_one, full)
            if claim is None:
                return
            card = await self._call(self.store.card, claim.card_id)
            running[card.profile] = running.get(card.profile, 0) + 1
            job = WorkerJob(
                claim.run_id,
                claim.card_id,
                self.db_url,
                self.settings.heartbeat,
                self.settings.lease,
                self.settings.backoff.base,
                self.settings.backoff.cap,
            )
            kind = "agent" if self._runners.get(card.profile) == "agent" else "light"
            pid = await self._pools[kind].spawn(job)
            self._workers[claim.run_id] = LocalWorker(
                claim.run_id, claim.card_id, pid, card.profile, time.monotonic()
            )
            self._report(
                f"card {card.id} started: {card.title!r} ({card.profile}), "
                f"run {claim.run_id} attempt {claim.attempt}, pid {pid}"
            )
            free -= 1

    def _claim_one(self, skip_profiles: list[str]) -> Claim | None:
        """Claim in the store thread with the time read there: a lease starts when it
        is granted, not when the loop woke (a stalled loop would grant it expired)."""
        return self.store.claim(
            utcnow(), self.settings.lease, skip_profiles=skip_profiles, worker=self.id, host=HOST
        )

    # -- reclaiming -------------------------------------------------------------------

    async def _reclaim(self, now: datetime) -> None:
        live = {lr.run.id: lr for lr in await self._call(self.store.live_runs)}
        for worker in list(self._workers.values()):
            if worker.run_id not in live:  # cancelled, or reclaimed by another dispatcher
                run = await self._call(self.store.run, worker.run_id)
                if run is not None and run.outcome in ("cancelled", "reclaimed"):
                    kill_group(worker.pid)
                    kill_group(run.runner_pid)
        expired = {i for i, e in live.items() if parse_iso(e.run.lease_expires_at) < now}
        if expired and self._steady():  # was the board writable all along? (see _unsteady)
            await self._call(self.store.wait_for_write_lock)
        for entry in live.values():
            if entry.run.id in expired and self._steady():
                beat = (now - parse_iso(entry.run.heartbeat_at)).total_seconds()
                reason = f"lease expired: no heartbeat for {beat:.1f}s"
                await self._take_back(entry.run, reason, now, if_expired=True)
            elif self._local_worker_gone(entry.run):
                await self._take_back(entry.run, f"worker pid {entry.run.pid} is gone", now)

    def _local_worker_gone(self, run: Run) -> bool:
        """A run of this host whose worker is not ours (we hear of our own exits) and
        whose pid is gone: its dispatcher died, say."""
        ours = run.id in self._workers or run.id in self._exiting
        return run.host == HOST and run.pid is not None and not ours and not alive(run.pid)

    async def _take_back(
        self, run: Run, reason: str, now: datetime, *, if_expired: bool = False
    ) -> None:
        """Give the card back, then kill what is left of its run on this host (a worker
        that heartbeated meanwhile keeps its card and is left alone)."""
        taken = await self._call(
            self.store.reclaim, run.id, now, reason, self.id, if_expired=if_expired
        )
        if taken:
            if run.host == HOST or run.host is None:
                kill_group(run.pid)
                kill_group(run.runner_pid)
            card = await self._call(self.store.card, run.card_id)
            self._report(
                f"card {run.card_id} reclaimed from run {run.id} ({reason}); {card.status}"
            )

    def _worker_exited(self, pid: int, code: int) -> None:
        """The template reaped one of our workers (called from the events task)."""
        worker = next((w for w in self._workers.values() if w.pid == pid), None)
        if worker is None:
            return
        del self._workers[worker.run_id]
        self._exiting.add(worker.run_id)
        task = asyncio.get_running_loop().create_task(
            self._after_exit(worker, code), name=f"after-exit-{worker.run_id}"
        )
        self._followups.add(task)
        task.add_done_callback(self._followups.discard)

    async def _after_exit(self, worker: LocalWorker, code: int) -> None:
        try:
            await self._record_exit(worker, code)
        finally:
            self._exiting.discard(worker.run_id)
        self._wake.set()

    async def _record_exit(self, worker: LocalWorker, code: int) -> None:
        """A run still live after its worker exited is taken back, naming the exit status."""
        now = utcnow()
        run = await self._call(self.store.run, worker.run_id)
        seconds = time.monotonic() - worker.started
        if run is not None and run.outcome == "running":  # died unfinished: take the card back
            await self._take_back(run, f"worker {describe_exit(code)}", now)
        else:
            detail = await self._call(self.store.detail, worker.card_id)
            self._report(_finished(detail, worker.run_id, seconds))

    # -- stopping ---------------------------------------------------------------------

    async def _drain(self) -> None:
        """Give running workers the grace period, then kill and release the rest."""
        deadline = time.monotonic() + (0 if self._stop_now else self.settings.grace)
        if self._workers:
            self._report(
                f"stopping: waiting up to {self.settings.grace:g}s "
                f"for {len(self._workers)} worker(s)"
            )
        while self._workers and time.monotonic() < deadline and not self._stop_now:
            await asyncio.sleep(0.05)
        await asyncio.gather(*self._followups, return_exceptions=True)
        now = utcnow()
        live = {lr.run.id: lr for lr in await self._call(self.store.live_runs)}
        for worker in list(self._workers.values()):
            kill_group(worker.pid)
            entry = live.get(worker.run_id)
            if entry is not None:
                kill_group(entry.run.runner_pid)
            if await self._call(
                self.store.release, worker.run_id, now, "dispatcher stopped", self.id
            ):
                self._report(f"card {worker.card_id} released back to ready")
            self._workers.pop(worker.run_id, None)


def run_dispatcher(db_url: str, settings: Settings, report: Report | None = None) -> int:
    """Run a dispatcher in this process until it stops; returns its exit code."""
    return asyncio.run(Dispatcher(db_url, settings, report).run())


def describe(settings: Settings) -> str:
    """A one-line summary of the settings, for the start-up report."""
    return (
        f"concurrency {settings.concurrency}, heartbeat {settings.heartbeat:g}s, "
        f"lease {settings.lease:g}s, tick {settings.tick:g}s"
    )


def _finished(detail: CardDetail, run_id: int, seconds: float) -> str:
    """How a run ended, in one line for the dispatcher's report."""
    card = detail.card
    run = next((r for r in detail.runs if r.id == run_id), None)
    took = f"after {seconds:.1f}s"
    if run is None or run.outcome == "done":
        return f"card {card.id} {card.status} {took}"
    if card.status == Status.READY and card.not_before:
        return (
            f"card {card.id} attempt {run.attempt} {run.outcome} {took} ({run.error}); "
            f"retrying at {parse_iso(card.not_before).astimezone():%H:%M:%S}"
        )
    return f"card {card.id} {card.status} {took}: {run.error}"
