"""The dispatcher: wake on any change, reclaim, claim up to capacity, spawn workers.

It wakes the moment the board changes (another process's commit moves SQLite's
`data_version`: looked at when inotify says the board's folder was written, and polled
every few tens of milliseconds besides), when a worker exits, when the next scheduled
start or lease expiry comes due, and at the fallback tick. Each wake:

0. fire due cron jobs (each fire creates one card), and see whether a stop was asked
   of it through the board (`hermes dispatcher stop`);
1. reclaim runs whose worker died or whose lease expired (killing what is left of them);
2. stop local workers whose runs a human cancelled; say which cards wait for a human;
3. claim ready cards up to the free capacity (global and per profile) and spawn workers.

Promotion needs no step here: finishing a card promotes its dependents in the same
transaction. Side tasks (board watch, worker exits, registry heartbeat) are named and
supervised: if one dies the dispatcher exits loudly (its running workers, like those of a
dispatcher that crashed, finish on their own). SIGINT/SIGTERM (or a stop asked through
the board) stop claiming, release at once the cards that wait for a human, give the other
running workers `grace` seconds, then kill the rest and release their cards to `ready`.

Store calls run on one dedicated thread: one thread hop per transaction (or per group of
reads made together), and the SQLite connection is only ever used from that thread.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from board import Backoff, Card, Claim, LiveRun, Run, Store, open_store
from board.clock import parse_iso, utcnow
from dispatcher import report
from dispatcher.cron import fire_due
from dispatcher.orphans import remote_specs, sweep
from dispatcher.pool import WorkerPool
from dispatcher.processes import alive, describe_exit, kill_group
from dispatcher.reconcile import reconcile
from dispatcher.watch import BoardWatch
from hermes.errors import HermesError
from hermes.paths import profiles_dir, this_host, worktrees_dir
from profiles.model import BackendSpec
from workers.backends.base import EndedRuns, board_tag
from workers.job import WorkerJob

P = ParamSpec("P")
T = TypeVar("T")
HOST = this_host()
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

    @property
    def beat(self) -> float:
        """How often the registry entry is renewed: others judge a dispatcher gone once
        it is older than the lease, so at least three beats fit in one."""
        return min(self.tick, self.lease / 3)


@dataclass(slots=True)
class LocalWorker:
    """A worker this dispatcher started (`pid` 0 until the template reports it)."""

    run_id: int
    card_id: int
    title: str
    profile: str
    started: float
    attempt: int
    pid: int = 0


@dataclass(frozen=True, slots=True)
class Look:
    """What one wake reads in one trip to the store thread."""

    fired: list[str]  # a line per cron fire
    stop: bool  # a stop was asked through the board
    live: dict[int, LiveRun]  # every run holding a lease, by run id
    deadline: datetime | None  # the next scheduled start, lease expiry or cron fire
    agent_cards: bool  # agent cards are ready while the agent template is cold
    now: datetime  # the board's clock at the look (the server's on PostgreSQL)

    def running(self) -> dict[str, int]:
        """Live runs per profile, board-wide (profile limits count every dispatcher's)."""
        return dict(Counter(entry.profile for entry in self.live.values()))


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
            kind: WorkerPool(self._worker_exited, kind, self._worker_spawned)
            for kind in ("light", "agent")
        }
        self._sides: set[asyncio.Task[None]] = set()
        self._crash: asyncio.Future[asyncio.Task[None]] | None = None
        self._workers: dict[int, LocalWorker] = {}
        self._exiting: set[int] = set()  # runs whose worker exited; _after_exit handles them
        self._paused: set[int] = set()  # local runs known to wait for a human
        self._said_waiting: tuple[int, str] | None = None  # the last `waiting:` line's card
        self._limits: dict[str, int] = {}
        self._runners: dict[str, str] = {}
        self._remote: dict[str, BackendSpec] = {}  # profiles whose work runs off this host
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
        if self._stopping and not self._stop_now:
            self._stop_now = True
            if self._workers:
                self._report("stopping now: releasing the running cards")
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
            await self._call(self._warm_intake)
            removed = await self._call(reconcile, self.store, worktrees_dir())
            for path in removed:
                self._report(f"removed stale worktree {path}")
            # In the background: a docker daemon or ssh host that is slow to answer must
            # not hold up the start.
            self._later(self._sweep_orphans(), "orphans-at-start")
            await self._pools["light"].start()
            if await self._call(self._agent_work_waiting):
                self._start_agent_template()
            # Only now, with the worker template warm, is it on the board (and in
            # `dispatcher status`): a card added from here on is claimed at once.
            await self._call(
                self.store.register_dispatcher,
                self.id,
                utcnow(),
                host=HOST,
                pid=os.getpid(),
                concurrency=self.settings.concurrency,
                lease=self.settings.lease,
            )
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
            pool = self._pools["agent"]
            warm = pool.ready.is_set() or pool.started or not self._agent_profiles()
            look = await self._call(self._look, warm)
            now = look.now
            for line in look.fired:
                self._report(line)
            if look.stop and not self._stopping:
                self._report("stop asked through the board (hermes dispatcher stop)")
                self.request_stop()
                break
            await self._reclaim(now, look.live)
            await self._note_pauses(look.live)
            busy = self._workers or self._followups  # exits still being handled count
            if self.settings.until_idle and not busy and await self._call(self.store.is_idle):
                self._report("idle: nothing left that can run")
                break
            claimed = await self._claim(look)
            if self.settings.until_idle and not self._workers and not look.live:
                await self._say_what_is_left(now)
            await self._sleep(now, look.deadline, claimed)
        await self._drain()

    def _look(self, warm: bool) -> Look:
        """In the store thread: read the board's clock (the server's on PostgreSQL, so
        hosts with skewed clocks judge leases and start times alike), fire due cron
        jobs, then read a stop request, the live runs, the next deadline and (while the
        agent template is cold, `warm` False) whether agent cards wait for it."""
        now = self.store.now()
        fired = fire_due(self.store, now)
        stop = self.store.stop_requested(self.id)
        live = {entry.run.id: entry for entry in self.store.live_runs()}
        deadline = self.store.next_deadline(now)
        agents = not warm and bool(self._agent_profiles() & self.store.ready_profiles())
        return Look(fired, stop, live, deadline, agents, now)

    async def _sleep(self, now: datetime, deadline: datetime | None, claimed: bool) -> None:
        timeout = self.settings.tick
        if not self._steady():  # look at expired leases again as soon as it is
            timeout = min(timeout, self._steady_since + self.settings.lease - time.monotonic())
        if claimed:  # the leases just granted expire after every deadline read before them
            timeout = min(timeout, self.settings.lease + 0.01)
        if deadline is not None:
            # a hair past the deadline, so the lease has really expired when we look
            timeout = min(timeout, (deadline - now).total_seconds() + 0.01)
        try:
            await asyncio.wait_for(self._wake.wait(), max(0.0, timeout))
        except TimeoutError:
            pass
        self._wake.clear()

    async def _say_what_is_left(self, now: datetime) -> None:
        """`--until-idle` with only cards scheduled for later: say which and when, once."""
        next_up = await self._call(self.store.next_scheduled, now)
        if next_up is None:
            return
        key = (next_up.card_id, next_up.not_before)
        if key != self._said_waiting:
            self._said_waiting = key
            self._report(report.scheduled(next_up, now))

    async def _watch_board(self) -> None:
        """Wake the loop whenever another process commits to the board: at once where
        inotify tells of writes to the board's files, else at the next poll."""
        watch = BoardWatch(self.db_url, self._wake.set)
        watch.start(asyncio.get_running_loop())
        try:
            clock = time.monotonic(), time.time()
            while True:
                await asyncio.sleep(self.settings.poll)
                last, clock = clock, (time.monotonic(), time.time())
                late = max(clock[0] - last[0], clock[1] - last[1]) - self.settings.poll
                if late > self._slack:  # paused (SIGSTOP, suspend) or the loop was blocked
                    self._unsteady(f"this dispatcher was paused for {late:.1f}s")
                watch.look()
        finally:
            watch.close()

    async def _beat(self) -> None:
        """Keep this dispatcher's registry entry fresh and profiles current."""
        while True:
            await asyncio.sleep(self.settings.beat)
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
        self._remote = {p.name: p.backend for p in profiles if p.backend.kind in REMOTE}

    def _warm_intake(self) -> None:
        """Validate the settings and every profile into the caches `board add` reads, so
        the first card added after this dispatcher starts is not the one that pays for
        pydantic (its creation time is taken before it is validated)."""
        from hermes.config import load_config
        from hermes.paths import profile_cache_file
        from profiles import card_defaults

        try:
            defaults = load_config().profile_defaults
            for name in self._limits:
                card_defaults(name, profiles_dir(), profile_cache_file(), defaults)
        except HermesError:
            pass  # `board add` will say what is wrong, as it always has

    # -- claiming ---------------------------------------------------------------------

    async def _claim(self, look: Look) -> bool:
        """Claim up to the free capacity and spawn a worker for each; whether any was."""
        free = self.settings.concurrency - len(self._workers)
        if look.agent_cards:
            self._start_agent_template()
        if free <= 0 or self._stopping:
            return False
        running = look.running()  # runs taken back since count: claims wait a wake
        cold = [] if self._pools["agent"].ready.is_set() else sorted(self._agent_profiles())
        any_claimed = False
        while free > 0 and not self._stopping:
            full = [name for name, limit in self._limits.items() if running.get(name, 0) >= limit]
            full += cold  # agent cards wait (unclaimed, so no lease runs) until litellm is warm
            claimed = await self._call(self._claim_one, full)
            if claimed is None:
                return any_claimed
            claim, card = claimed
            any_claimed = True
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
            self._workers[claim.run_id] = LocalWorker(
                claim.run_id, card.id, card.title, card.profile, time.monotonic(), claim.attempt
            )
            await self._pools[kind].spawn(job)  # its pid comes to _worker_spawned
            free -= 1
        return any_claimed

    def _claim_one(self, skip_profiles: list[str]) -> tuple[Claim, Card] | None:
        """Claim in the store thread with the time read there: a lease starts when it
        is granted, not when the loop woke (a stalled loop would grant it expired)."""
        claim = self.store.claim(
            utcnow(), self.settings.lease, skip_profiles=skip_profiles, worker=self.id, host=HOST
        )
        return None if claim is None else (claim, self.store.card(claim.card_id))

    def _worker_spawned(self, run_id: int, pid: int) -> None:
        """The template handed `run_id` to a worker, forked for it or free after an
        earlier run (called from the events task)."""
        worker = self._workers.get(run_id)
        if worker is None:
            return  # released while it was being forked: it finds its run fenced and exits
        worker.pid = pid
        self._report(
            f"card {worker.card_id} started: {worker.title!r} ({worker.profile}), "
            f"run {run_id} attempt {worker.attempt}, pid {pid}"
        )

    # -- reclaiming -------------------------------------------------------------------

    async def _reclaim(self, now: datetime, live: dict[int, LiveRun]) -> None:
        for worker in list(self._workers.values()):
            if worker.run_id not in live:  # cancelled, or reclaimed by another dispatcher
                run = await self._call(self.store.run, worker.run_id)
                if run is not None and run.outcome in TAKEN:
                    _stop(worker.pid, run)
                    if worker.profile in self._remote:  # the worker cannot remove it now
                        self._later(self._sweep_orphans(), f"orphans-of-run-{run.id}")
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
                _stop(run.pid, run)
            card = await self._call(self.store.card, run.card_id)
            if card.profile in self._remote:  # its container or remote group may live on
                self._later(self._sweep_orphans(), f"orphans-of-run-{run.id}")
            self._report(
                f"card {run.card_id} reclaimed from run {run.id} ({reason}); {card.status}"
            )

    async def _sweep_orphans(self) -> None:
        """Remove the containers and kill the remote process groups of this board's runs
        that are no longer live (see `dispatcher.orphans`)."""
        specs = remote_specs(self._remote.values())
        if not specs:
            return
        upto = await self._call(self.store.last_run_id)  # first: see EndedRuns
        live = await self._call(self.store.live_runs)
        ended = EndedRuns(upto, frozenset(entry.run.id for entry in live))
        removed, problems = await asyncio.to_thread(sweep, specs, board_tag(self.db_url), ended)
        for line in removed:
            self._report(f"removed orphan {line}")
        for line in problems:
            self._report(f"warning: {line}")

    def _later(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Follow-up work off the dispatch loop's path (a sweep may wait on a network)."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._followups.add(task)
        task.add_done_callback(self._followups.discard)

    async def _note_pauses(self, live: dict[int, LiveRun]) -> None:
        """Say when one of our cards starts waiting for a human (what it asks and the
        command that answers it) and when it runs again."""
        paused = {
            run_id
            for run_id, entry in live.items()
            if entry.status == "needs_input" and run_id in self._workers
        }
        if paused == self._paused:
            return
        new, over = paused - self._paused, self._paused - paused
        self._paused = paused
        requests = await self._call(self.store.pending_requests) if new else {}
        for run_id in sorted(new):
            worker = self._workers[run_id]
            request = requests.get(worker.card_id)
            for line in report.waiting(worker.card_id, worker.title, request):
                self._report(line)
        for run_id in sorted(over):
            entry = live.get(run_id)
            if entry is not None and entry.status == "running":  # answered (else: it ended)
                answer = await self._call(self.store.last_answer, entry.run.card_id, run_id)
                self._report(report.resumed(entry.run.card_id, answer))

    def _worker_exited(self, pid: int, code: int) -> None:
        """The run of one of our workers ended: the template reaped the worker, or the
        worker said it finished and is free for another (called from the events task)."""
        worker = next((w for w in self._workers.values() if w.pid == pid), None)
        if worker is None:
            return  # released (its card already said so), or not ours
        del self._workers[worker.run_id]
        self._paused.discard(worker.run_id)
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
        end = await self._call(self.store.run_end, worker.run_id)
        seconds = time.monotonic() - worker.started
        if end is not None and end.run.outcome == "running":  # died unfinished: take it back
            await self._take_back(end.run, f"worker {describe_exit(code)}", now)
        else:
            self._report(report.finished(worker.card_id, end, seconds))

    # -- stopping ---------------------------------------------------------------------

    async def _drain(self) -> None:
        """Release at once the cards that wait for a human (their workers hold nothing
        to finish), give the other running workers the grace period, then release the
        rest. Says what it does: a stop is never silent."""
        if not self._stopping:
            return  # idle with --until-idle: nothing runs, nothing to say
        try:
            await asyncio.wait_for(self._settled(), 5)
        except TimeoutError:
            pass
        grace = 0 if self._stop_now else self.settings.grace
        if not self._workers:
            self._report("stopping: nothing was running")
        else:
            self._report("stopping: no more cards will be claimed")
            await self._release_paused()
        if self._workers and grace:
            count = len(self._workers)
            self._report(
                f"giving {count} running {'card' if count == 1 else 'cards'} up to "
                f"{grace:g}s to finish (Ctrl-C again: release now)"
            )
        deadline = time.monotonic() + grace
        while self._workers and time.monotonic() < deadline and not self._stop_now:
            await asyncio.sleep(0.1)
            await self._release_paused()
        await asyncio.gather(*self._followups, return_exceptions=True)
        why = "stopped at once" if self._stop_now else f"not finished within {grace:g}s"
        for worker in list(self._workers.values()):
            await self._release(worker, why)
        self._report(f"dispatcher {self.id} stopped")

    async def _settled(self) -> None:
        for pool in self._pools.values():
            await pool.settled()

    async def _release_paused(self) -> None:
        """Release our cards that wait for a human."""
        if not self._workers:
            return
        live = await self._call(self.store.live_runs)
        for entry in live:
            worker = self._workers.get(entry.run.id)
            if worker is not None and entry.status == "needs_input":
                await self._release(worker, "it was waiting for a human")

    async def _release(self, worker: LocalWorker, why: str) -> None:
        """Give the card back to `ready` (the attempt not counted), then kill its worker;
        if the run ended meanwhile, say how instead (its worker, when it finished the run
        itself, may already be working another). The worker is forgotten first, so the
        end of its run adds no second line."""
        if self._workers.pop(worker.run_id, None) is None:
            return  # its exit came first and was reported
        self._paused.discard(worker.run_id)
        run = await self._call(self.store.run, worker.run_id)
        released = await self._call(
            self.store.release, worker.run_id, utcnow(), "dispatcher stopped", self.id
        )
        if released:
            _stop(worker.pid, run)
            self._report(f"card {worker.card_id} released back to ready ({why})")
            return
        end = await self._call(self.store.run_end, worker.run_id)
        if end is not None and end.run.outcome in TAKEN:  # by someone else: stop its worker
            _stop(worker.pid, end.run)
        # Else it finished just now (its worker may be free for another run already): say
        # how, as its end would have.
        self._report(report.finished(worker.card_id, end, time.monotonic() - worker.started))


#: How a run ends when it is taken from its worker (cancelled, reclaimed or released):
#: the worker must stop, and is killed with what it started.
TAKEN = ("cancelled", "reclaimed")


def _stop(worker_pid: int | None, run: Run | None) -> None:
    """Kill a worker whose run was taken, and its runner's process group."""
    kill_group(worker_pid)
    if run is not None:
        kill_group(run.runner_pid)


REMOTE = ("docker", "ssh")


def run_dispatcher(db_url: str, settings: Settings, report: Report | None = None) -> int:
    """Run a dispatcher in this process until it stops; returns its exit code."""
    return asyncio.run(Dispatcher(db_url, settings, report).run())
