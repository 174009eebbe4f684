"""What the dispatcher reads and records: live runs, the next moment it must wake, whether
anything can still run, how a run ended, the registry of dispatchers (and stops asked of
them through the board), and workspace bookkeeping."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from msgspec import Struct

from board import queries as q
from board.base import StoreBase, retried
from board.cards import Card, DispatcherInfo, LiveRun, Run
from board.clock import iso, parse_iso
from board.rows import build, columns, one, rows_of
from board.status import ACTION_OF_KIND


class Registered(Struct, frozen=True):
    """A dispatcher in the registry, with what judging it needs: its lease (None when an
    older hermes registered it) and whether a stop was asked of it."""

    info: DispatcherInfo
    lease: float | None
    stop_requested_at: str | None


class RunEnd(Struct, frozen=True):
    """How a run ended, as the dispatcher reports it: the run, its card's status now, and
    for a planner turn the turn's `planned` data and the goal's unfinished cards."""

    run: Run
    status: str
    not_before: str | None
    planned: dict[str, Any] | None
    unfinished_children: int


class Scheduled(Struct, frozen=True):
    """The next card that can only start later (its `--at` time, or a retry's backoff)."""

    card_id: int
    title: str
    not_before: str
    attempts: int
    count: int  # scheduled cards in all, this one included


class DispatchReads(StoreBase):
    """Reads and small records for the dispatcher, `board gc` and `board merge`."""

    def live_runs(self) -> list[LiveRun]:
        """Every run that holds a lease, oldest first, with its card's status and profile."""
        with self._db.read() as cx:
            cursor = cx.tuples(q.LIVE_RUNS)
            names = columns(cursor)
            status, profile, title = (names.index(name) for name in ("status", "profile", "title"))
            return [
                LiveRun(build(Run, names, row), row[status], row[profile], row[title])
                for row in cursor
            ]

    def last_run_id(self) -> int:
        """The newest run's id (0 on a board that never ran anything).

        An orphan sweep reads this before the live runs: a run up to this id that is not
        live then has ended for good, while a newer one may have been claimed since (its
        container or remote group is not an orphan)."""
        with self._db.read() as cx:
            return int(cx.execute(q.LAST_RUN_ID).fetchone()[0])

    def wait_for_write_lock(self) -> None:
        """Take the board's write lock and let it go at once, writing nothing.

        The dispatcher times this before taking cards back for expired leases: a long
        wait means some process held the lock (frozen, say), so workers could not
        heartbeat either and their leases say nothing about whether they are alive.
        """
        with self._db.write():
            pass

    def run(self, run_id: int) -> Run | None:
        """One run (its `outcome` is `running` while it is live), or None if unknown."""
        row = self._db.cx.execute(q.RUN_BY_ID, {"run_id": run_id}).fetchone()
        return None if row is None else one(Run, row)

    def next_deadline(self, now: datetime) -> datetime | None:
        """The next moment something becomes due: a scheduled start, a lease expiry or a
        cron fire."""
        with self._db.read() as cx:
            start = cx.execute(q.NEXT_START, {"now": iso(now)}).fetchone()[0]
            expiry = cx.execute(q.NEXT_EXPIRY).fetchone()[0]
            fire = cx.execute(q.NEXT_CRON).fetchone()[0]
        moments = [parse_iso(m) for m in (start, expiry, fire) if m is not None]
        return min(moments) if moments else None

    def ready_profiles(self) -> set[str]:
        """The profiles that have ready cards (read off the partial index of ready cards)."""
        return {profile for (profile,) in self._db.cx.execute(q.READY_PROFILES)}

    def unfinished_profiles(self) -> set[str]:
        """The profiles of cards that are ready, waiting, running or paused."""
        return {profile for (profile,) in self._db.cx.execute(q.UNFINISHED_PROFILES)}

    def is_idle(self) -> bool:
        """True when nothing is ready, running or paused: then no waiting card can become
        ready on its own either (each waits, transitively, on a card a human must act on)."""
        return not self._db.cx.execute(q.ACTIVE_CARD).fetchone()[0]

    def run_end(self, run_id: int) -> RunEnd | None:
        """How a run ended (one read), or None if there is no such run."""
        row = self._db.cx.execute(q.RUN_END, {"run_id": run_id}).fetchone()
        if row is None:
            return None
        planned = row["planned"]
        data = json.loads(planned) if planned else None
        return RunEnd(one(Run, row), row["status"], row["not_before"], data, row["unfinished"])

    def last_answer(self, card_id: int, run_id: int) -> tuple[str, dict[str, Any]] | None:
        """How a human (or the auto-approval) last answered the run's request: the event
        kind (`approved`, `rejected`, `answered`) and its data."""
        params = {"card_id": card_id, "run_id": run_id}
        row = self._db.cx.execute(q.LAST_ANSWER, params).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    def next_scheduled(self, now: datetime) -> Scheduled | None:
        """The next ready card that may only start after `now`, or None."""
        params = {"now": iso(now)}
        with self._db.read() as cx:
            row = cx.execute(q.NEXT_SCHEDULED, params).fetchone()
            if row is None:
                return None
            count = cx.execute(q.SCHEDULED_COUNT, params).fetchone()[0]
        card_id, title, not_before, attempts = row
        return Scheduled(card_id, title, not_before, attempts, count)

    @retried
    def register_dispatcher(
        self,
        dispatcher_id: str,
        now: datetime,
        *,
        host: str,
        pid: int,
        concurrency: int,
        lease: float | None = None,
    ) -> None:
        """Announce a dispatcher on the board; `lease`: how long its registry heartbeat
        may go unrenewed before others judge it gone."""
        params: dict[str, object] = {
            "id": dispatcher_id,
            "host": host,
            "pid": pid,
            "concurrency": concurrency,
            "lease": lease,
        }
        with self._db.write() as cx:
            params["now"] = iso(self._now(cx, now))
            cx.execute(q.REGISTER_DISPATCHER, params)

    def registry(self, now: datetime, recent: timedelta = timedelta(hours=1)) -> list[Registered]:
        """Dispatchers not recorded as stopped, and those stopped within `recent`."""
        rows = self._db.cx.execute(q.REGISTRY, {"since": iso(now - recent)}).fetchall()
        return [
            Registered(one(DispatcherInfo, row), row["lease"], row["stop_requested_at"])
            for row in rows
        ]

    @retried
    def request_stop(self, dispatcher_id: str, now: datetime) -> bool:
        """Ask a running dispatcher to stop (it reads this on its next wake); False if it
        is recorded as stopped or was already asked."""
        with self._db.write() as cx:
            params = {"id": dispatcher_id, "now": iso(self._now(cx, now))}
            return cx.execute(q.REQUEST_STOP, params).rowcount == 1  # 0: said plainly

    def stop_requested(self, dispatcher_id: str) -> bool:
        """Whether a stop was asked of this dispatcher through the board."""
        row = self._db.cx.execute(q.STOP_REQUESTED, {"id": dispatcher_id}).fetchone()
        return bool(row and row[0])

    @retried
    def dispatcher_beat(self, dispatcher_id: str, now: datetime, *, stopped: bool = False) -> None:
        """Record that the dispatcher is alive (or, with `stopped`, that it has stopped)."""
        sql = q.DISPATCHER_STOPPED if stopped else q.DISPATCHER_BEAT
        with self._db.write() as cx:
            params = {"id": dispatcher_id, "now": iso(self._now(cx, now))}
            self._apply(cx, sql, params, f"recording dispatcher {dispatcher_id}")

    def dispatchers(
        self, now: datetime, recent: timedelta = timedelta(hours=1)
    ) -> list[DispatcherInfo]:
        """Dispatchers still registered, or stopped within `recent`."""
        cursor = self._db.cx.tuples(q.DISPATCHERS, {"since": iso(now - recent)})
        return rows_of(DispatcherInfo, cursor)

    def finished_with_workspace(self) -> list[Card]:
        """Finished cards that still record a worktree or scratch workspace."""
        with self._db.read() as cx:
            return Card.from_cursor(cx.tuples(q.FINISHED_WITH_WORKSPACE))

    def worktrees(self) -> dict[str, tuple[int, str]]:
        """Worktree path -> (card id, status) for every card that records one."""
        rows = self._db.cx.execute(q.WORKTREES).fetchall()
        return {worktree: (card_id, status) for card_id, _repo, worktree, status in rows}

    @retried
    def clear_worktree(self, card_id: int, now: datetime, actor: str = "cli") -> None:
        """Forget a removed worktree (the branch stays); event `worktree_removed`."""
        with self._db.write() as cx:
            stamp = iso(self._now(cx, now))
            self._lock(cx, card_id)
            params = {"id": card_id, "now": stamp}
            self._apply(cx, q.CLEAR_WORKTREE, params, f"forgetting card {card_id}'s worktree")
            self._event(cx, card_id, "worktree_removed", actor, stamp)

    @retried
    def note(
        self, card_id: int, kind: str, now: datetime, actor: str, data: dict[str, Any]
    ) -> None:
        """Record an event that does not change the card's status (e.g. `merged`)."""
        if kind in ACTION_OF_KIND:
            raise ValueError(f"{kind!r} events change a card's status; use the store's commands")
        with self._db.write() as cx:
            stamp = iso(self._now(cx, now))
            self._status(cx, card_id)
            self._event(cx, card_id, kind, actor, stamp, data)
