"""Claims, leases and run outcomes: the hot path the dispatcher and workers call.

A run's id is its fencing token. A worker's heartbeat and its final write name the run;
once the run is no longer the card's current run (reclaimed, cancelled), those writes
change nothing and return False, and the worker stops.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from msgspec import Struct

from board import queries as q
from board.base import LiveRunState, retried
from board.cards import Claim, Event, Usage
from board.clock import iso
from board.db import Connection, LostRace
from board.goal_ops import GoalCommands
from board.reads import request_of
from board.status import ANSWER_KINDS, Action, Status
from hermes.errors import Fenced, IllegalTransition


class Backoff(Struct, frozen=True):
    """How long a failed attempt waits before the next: base x 2^(attempt-1), capped."""

    base: float = 10.0
    cap: float = 300.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return float(min(self.cap, self.base * 2 ** max(0, attempt - 1)))


#: The backoff of a failed attempt unless a caller says otherwise.
DEFAULT_BACKOFF = Backoff()


class RunCommands(GoalCommands):
    """Claim ready cards and record what happened to each attempt."""

    @retried
    def claim(
        self,
        now: datetime,
        lease_seconds: float,
        *,
        skip_profiles: list[str] | None = None,
        worker: str | None = None,
        host: str | None = None,
        pid: int | None = None,
    ) -> Claim | None:
        """Claim the best ready card (priority, then id), or None when nothing is claimable.

        `skip_profiles` are profiles with no free slot; their cards are left for later.
        """
        profile_filter = ""
        params: dict[str, object] = {}
        if skip_profiles:
            names = q.placeholders("p", len(skip_profiles))
            profile_filter = q.CLAIM_PROFILE_FILTER.format(names=names)
            params.update(q.bind_list("p", skip_profiles))
        params.update(worker=worker, host=host, pid=pid)
        with self._db.write() as cx:
            now = self._now(cx, now)  # the lease starts when it is granted, by the board's clock
            stamp, expires = iso(now), iso(now + timedelta(seconds=lease_seconds))
            params.update(now=stamp, lease_expires_at=expires)
            if self._db.dialect == "postgresql":
                row = cx.execute(q.PG_CLAIM.format(profile_filter=profile_filter), params)
                found = row.fetchone()
                if found is None:
                    return None
                run_id, card_id, attempt, marked = found
                if marked != 1:
                    raise LostRace(f"claiming card {card_id} matched nothing")
            else:
                sql = q.CLAIM_RUN.format(profile_filter=profile_filter)
                found = cx.execute(sql, params).fetchone()
                if found is None:
                    return None
                run_id, card_id, attempt = found
                mark = {"attempt": attempt, "run_id": run_id, "now": stamp, "card_id": card_id}
                self._apply(cx, q.CLAIM_CARD, mark, f"claiming card {card_id}")
            self._transition(
                cx,
                card_id,
                Status.READY,
                Status.RUNNING,
                Action.CLAIM,
                worker or "dispatcher",
                stamp,
                {"attempt": attempt},
                run_id,
            )
        return Claim(run_id, card_id, attempt, expires)

    @retried
    def heartbeat(self, run_id: int, now: datetime, lease_seconds: float) -> bool:
        """Extend the run's lease; False means the run was fenced off and must stop (the
        row count says it: a heartbeat decides nothing it read)."""
        with self._db.write() as cx:
            now = self._now(cx, now)
            params = {
                "run_id": run_id,
                "now": iso(now),
                "lease_expires_at": iso(now + timedelta(seconds=lease_seconds)),
            }
            return cx.execute(q.HEARTBEAT, params).rowcount == 1

    @retried
    def complete(
        self,
        run_id: int,
        now: datetime,
        *,
        result: str | None = None,
        review: bool = False,
        usage: Usage | None = None,
    ) -> bool:
        """Finish the run successfully: the card goes to done (or review) and its waiting
        dependents whose last blocker this was become ready. False if fenced off."""
        to = Status.REVIEW if review else Status.DONE
        with self._db.write() as cx:
            stamp = iso(self._now(cx, now))
            live = self._live_run(cx, run_id)
            if live is None or live.status is not Status.RUNNING:
                return False
            self._finish(cx, live, run_id, to, stamp, result=result)
            self._end_run(cx, run_id, "done", stamp, exit_code=0, usage=usage)
            self._transition(
                cx,
                live.card_id,
                Status.RUNNING,
                to,
                Action.COMPLETE,
                f"run:{run_id}",
                stamp,
                {"attempt": live.attempt},
                run_id,
            )
            self._card_finished(cx, live.card_id, to, stamp)
        return True

    @retried
    def fail(
        self,
        run_id: int,
        now: datetime,
        error: str,
        *,
        outcome: str = "failed",
        exit_code: int | None = None,
        result: str | None = None,
        usage: Usage | None = None,
        backoff: Backoff = DEFAULT_BACKOFF,
        retry: bool = True,
    ) -> bool:
        """End the attempt as failed (or `timeout`): the card is retried after a backoff
        while attempts remain, else it fails with `error` visible. An attempt may end while
        it waits for a human (its deadline passed). False if fenced off."""
        with self._db.write() as cx:
            now = self._now(cx, now)  # the retry's backoff counts on the board's clock
            stamp = iso(now)
            live = self._live_run(cx, run_id)
            if live is None or live.status not in (Status.RUNNING, Status.NEEDS_INPUT):
                return False
            more = retry and live.attempts < live.max_attempts
            to = Status.READY if more else Status.FAILED
            retry_at = None
            if to is Status.READY:
                retry_at = iso(now + timedelta(seconds=backoff.delay(live.attempt)))
            self._finish(cx, live, run_id, to, stamp, result=result, not_before=retry_at)
            self._end_run(cx, run_id, outcome, stamp, error=error, exit_code=exit_code, usage=usage)
            extra = {
                "attempt": live.attempt,
                "outcome": outcome,
                "error": error,
                "retry_at": retry_at,
            }
            self._transition(
                cx,
                live.card_id,
                live.status,
                to,
                Action.FAIL,
                f"run:{run_id}",
                stamp,
                extra,
                run_id,
            )
            self._card_finished(cx, live.card_id, to, stamp)
        return True

    def reclaim(
        self,
        run_id: int,
        now: datetime,
        reason: str,
        actor: str = "dispatcher",
        *,
        if_expired: bool = False,
    ) -> bool:
        """Take the card back from a dead, hung or lease-expired worker: the run ends
        `reclaimed` and the card is ready again (or failed when attempts are spent).

        With `if_expired`, only if the lease has still expired at `now` when the write
        lock is held: a heartbeat that landed after the caller looked wins."""
        return self._take_back(run_id, now, reason, actor, Action.RECLAIM, if_expired)

    def release(self, run_id: int, now: datetime, reason: str, actor: str = "dispatcher") -> bool:
        """Give a card back without counting the attempt (the dispatcher is stopping)."""
        return self._take_back(run_id, now, reason, actor, Action.RELEASE)

    @retried
    def _take_back(
        self,
        run_id: int,
        now: datetime,
        reason: str,
        actor: str,
        action: Action,
        if_expired: bool = False,
    ) -> bool:
        with self._db.write() as cx:
            stamp = iso(self._now(cx, now))
            live = self._live_run(cx, run_id)
            if live is None:
                return False
            if if_expired:
                # judged with the run's row locked, by the board's clock read now
                lease = cx.execute(self._sql.run_lease, {"run_id": run_id}).fetchone()[0]
                stamp = iso(self._now(cx, now, fresh=True))
                if lease >= stamp:
                    return False
            if action is Action.RELEASE:
                to = Status.READY
                params = {
                    "now": stamp,
                    "card_id": live.card_id,
                    "run_id": run_id,
                    "from": live.status.value,
                }
                self._apply(cx, q.RELEASE_CARD, params, f"releasing card {live.card_id}")
            else:
                to = Status.READY if live.attempts < live.max_attempts else Status.FAILED
                self._finish(cx, live, run_id, to, stamp)
            self._end_run(cx, run_id, "reclaimed", stamp, error=reason)
            self._transition(
                cx,
                live.card_id,
                live.status,
                to,
                action,
                actor,
                stamp,
                {"attempt": live.attempt, "reason": reason},
                run_id,
            )
            self._card_finished(cx, live.card_id, to, stamp)
        return True

    def pause(self, run_id: int, now: datetime, request: dict[str, Any]) -> bool:
        """The worker waits for a human (an approval or a question): the card shows
        `needs_input` with the request in its event; the run keeps its lease."""
        return self._switch(
            run_id, now, Status.RUNNING, Status.NEEDS_INPUT, Action.PAUSE, f"run:{run_id}", request
        )

    def resume(
        self,
        run_id: int,
        now: datetime,
        answer: dict[str, Any],
        *,
        kind: str = "resumed",
        actor: str = "cli",
    ) -> bool:
        """A human answered: the paused card runs again; `kind` names the answer
        (`approved`, `rejected`, `resumed`), `answer` is what the worker receives."""
        return self._switch(
            run_id, now, Status.NEEDS_INPUT, Status.RUNNING, Action.RESUME, actor, answer, kind
        )

    def answer(
        self,
        card_id: int,
        now: datetime,
        kind: str,
        data: dict[str, Any],
        actor: str = "cli",
        *,
        run_id: int | None = None,
    ) -> None:
        """A human answers a paused card: `approved` or `rejected` for an approval request,
        `answered` for a question. Refuses (naming the right command) anything else.

        `run_id` is the run the request came from (a chat button carries it): an answer
        to a request of a run that ended is refused, never applied to the next run's."""
        with self._db.read() as cx:
            status = self._status(cx, card_id)
            current = cx.execute(q.CURRENT_RUN, {"id": card_id}).fetchone()[0]
        if run_id is not None and current != run_id:
            raise Fenced(
                f"card {card_id}'s request came from run {run_id}, which has ended; "
                "this answer no longer applies"
            )
        run_id = current
        request = self.pending_request(run_id) if status is Status.NEEDS_INPUT else None
        if request is None or run_id is None:
            raise IllegalTransition(f"card {card_id} is {status}; it is not waiting for anyone")
        wanted = "question" if kind == "answered" else "approval"
        if request.get("kind") != wanted:
            hint = (
                f"answer it with `hermes board reply {card_id} TEXT`"
                if wanted == "approval"
                else f"use `hermes board approve {card_id}` or `reject {card_id}`"
            )
            raise IllegalTransition(
                f"card {card_id} waits for {_an(str(request.get('kind')))}", cli_hint=hint
            )
        if not self.resume(run_id, now, data, kind=kind, actor=actor):
            raise IllegalTransition(
                f"card {card_id} is no longer waiting", cli_hint="see `hermes board show`"
            )

    def pending_request(self, run_id: int | None) -> dict[str, Any] | None:
        """What a paused run asked for (its last `needs_input` event's data), if paused."""
        if run_id is None:
            return None
        events = self.run_events(run_id, ("needs_input", *ANSWER_KINDS))
        if not events or events[-1].kind != "needs_input":
            return None
        return request_of(events[-1].data)

    def run_events(self, run_id: int, kinds: tuple[str, ...]) -> list[Event]:
        """A run's events of the given kinds, oldest first."""
        sql = q.RUN_EVENTS.format(kinds=q.placeholders("k", len(kinds)))
        rows = self._db.cx.execute(sql, {"run_id": run_id, **q.bind_list("k", list(kinds))})
        return [Event.from_row(row) for row in rows]

    @retried
    def _switch(
        self,
        run_id: int,
        now: datetime,
        src: Status,
        dst: Status,
        action: Action,
        actor: str,
        data: dict[str, Any],
        kind: str | None = None,
    ) -> bool:
        """Move a live run's card between running and needs_input; False if fenced off."""
        with self._db.write() as cx:
            stamp = iso(self._now(cx, now))
            live = self._live_run(cx, run_id)
            if live is None or live.status is not src:
                return False
            params = {
                "to": dst.value,
                "now": stamp,
                "card_id": live.card_id,
                "run_id": run_id,
                "from": src.value,
            }
            self._apply(cx, q.SET_RUN_CARD_STATUS, params, f"moving card {live.card_id} to {dst}")
            self._transition(
                cx, live.card_id, src, dst, action, actor, stamp, data, run_id, kind=kind
            )
        return True

    @retried
    def start_run(
        self,
        run_id: int,
        now: datetime,
        lease: float,
        *,
        pid: int,
        host: str,
        branch: str | None = None,
        worktree: str | None = None,
    ) -> bool:
        """The worker process is up: record who it is and where the card works (its
        branch and worktree), and renew the lease, its first sign of life; one
        transaction, the `started` event. False if fenced."""
        with self._db.write() as cx:
            now = self._now(cx, now)
            stamp = iso(now)
            live = self._live_run(cx, run_id)
            if live is None:
                return False
            params = {
                "pid": pid,
                "host": host,
                "now": stamp,
                "lease_expires_at": iso(now + timedelta(seconds=lease)),
                "run_id": run_id,
            }
            self._apply(cx, q.START_RUN, params, f"starting run {run_id}")
            if worktree is not None:
                where = {"branch": branch, "worktree": worktree, "now": stamp}
                params = {**where, "card_id": live.card_id, "run_id": run_id}
                self._apply(
                    cx, q.SET_WORKSPACE, params, f"recording card {live.card_id}'s workspace"
                )
            data = {"pid": pid, "host": host, "attempt": live.attempt}
            self._event(cx, live.card_id, "started", f"run:{run_id}", stamp, data, run_id)
        return True

    @retried
    def set_runner(self, run_id: int, runner_pid: int) -> bool:
        """Record the runner's process group, so whoever reclaims the run can kill it."""
        with self._db.write() as cx:
            params = {"runner_pid": runner_pid, "run_id": run_id}
            return cx.execute(q.SET_RUNNER, params).rowcount == 1

    def expired_runs(self, now: datetime) -> list[int]:
        """Live runs whose lease ran out before `now` (they are due to be reclaimed)."""
        rows = self._db.cx.execute(q.EXPIRED_RUNS, {"now": iso(now)}).fetchall()
        return [run_id for (run_id,) in rows]

    def running_by_profile(self) -> dict[str, int]:
        """How many live runs each profile has (for per-profile concurrency limits)."""
        return dict(self._db.cx.execute(q.RUNNING_BY_PROFILE).fetchall())

    def _finish(
        self,
        cx: Connection,
        live: LiveRunState,
        run_id: int,
        to: Status,
        now: str,
        *,
        result: str | None = None,
        not_before: str | None = None,
    ) -> None:
        params = {
            "to": to.value,
            "result": result,
            "not_before": not_before,
            "now": now,
            "card_id": live.card_id,
            "run_id": run_id,
            "from": live.status.value,
        }
        self._apply(cx, q.FINISH_CARD, params, f"moving card {live.card_id} to {to}")


def _an(noun: str) -> str:
    """`a question`, `an approval`."""
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"
