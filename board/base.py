"""What every part of the store shares: the database handle, the event writer, promotion,
the row locks and row-count checks that keep transitions whole, and the retry of a
transaction that lost a race.

Each public store operation is one transaction that makes its conditional UPDATE and
writes its event row together; these helpers run inside such a transaction.
"""

from __future__ import annotations

import functools
import json
import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from msgspec import Struct

from board import queries as q
from board.cards import Usage
from board.db import Connection, Database, LostRace, Retry
from board.status import EVENT_KIND, FINISHED, Action, Status, is_allowed
from hermes.errors import Fenced, NotFound, StorageError

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
#: How many times a transaction that lost a race is run again before giving up.
ATTEMPTS = 25

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S", bound="StoreBase")


class LiveRunState(Struct, frozen=True):
    """A live run as the fencing check sees it: its card, attempt and the card's status."""

    card_id: int
    attempt: int
    status: Status
    attempts: int
    max_attempts: int


def to_json_text(value: Any) -> str:
    """Compact JSON that keeps non-ASCII text readable in the database."""
    return _ENCODER.encode(value)


def retried(method: Callable[Concatenate[S, P], T]) -> Callable[Concatenate[S, P], T]:
    """Run a store operation again (a bounded number of times, after a short random
    pause) when its transaction lost a race and was rolled back whole: a serialization
    failure or deadlock on PostgreSQL, or a conditional UPDATE that matched nothing
    (`LostRace`). The operation re-reads everything, so it decides afresh. SQLite's
    writers never race (BEGIN IMMEDIATE), so there this is a loop run once."""

    @functools.wraps(method)
    def run(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(ATTEMPTS):
            try:
                return method(self, *args, **kwargs)
            except Retry as exc:
                last = exc
                time.sleep(random.uniform(0, min(0.05, 0.0005 * 2**attempt)))
        raise StorageError(
            f"the board stayed too busy to {method.__name__.replace('_', ' ')}: lost a race "
            f"with other writers {ATTEMPTS} times (last: {last}); nothing was changed, "
            "try again"
        ) from last

    return run


class StoreBase:
    """The database handle plus helpers used inside write transactions."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._sql = q.DIALECTS[db.dialect]

    @property
    def db(self) -> Database:
        """The underlying database (for change polling and closing)."""
        return self._db

    def now(self) -> datetime:
        """The board's clock: the database server's on PostgreSQL (so hosts agree on
        leases and start times), this host's otherwise."""
        from board.clock import utcnow

        return self._db.server_now() or utcnow()

    def _now(self, cx: Connection, given: datetime, *, fresh: bool = False) -> datetime:
        """The time a decision in this transaction uses (see `Database.now`)."""
        return self._db.now(cx, given, fresh=fresh)

    def _apply(self, cx: Connection, sql: str, params: dict[str, Any], what: str) -> None:
        """A conditional UPDATE that the transaction's own reads say must match one row;
        matching none means another writer got there first: `LostRace`, rolled back."""
        if cx.execute(sql, params).rowcount != 1:
            raise LostRace(f"{what} matched nothing: another writer changed it first")

    def _event(
        self,
        cx: Connection,
        card_id: int,
        kind: str,
        actor: str,
        now: str,
        data: dict[str, Any] | None = None,
        run_id: int | None = None,
    ) -> None:
        cx.execute(
            q.INSERT_EVENT,
            {
                "card_id": card_id,
                "run_id": run_id,
                "at": now,
                "kind": kind,
                "actor": actor,
                "data": to_json_text(data or {}),
            },
        )

    def _transition(
        self,
        cx: Connection,
        card_id: int,
        src: Status | None,
        dst: Status,
        action: Action,
        actor: str,
        now: str,
        extra: dict[str, Any] | None = None,
        run_id: int | None = None,
        *,
        kind: str | None = None,
    ) -> None:
        """Write the event for a status change the caller has just applied.

        The event's kind is the action's (see `EVENT_KIND`) unless `kind` refines it,
        e.g. a resume answered by `approved` or `rejected`.
        """
        assert is_allowed(src, dst, action), f"{action}: {src} -> {dst} not in the table"
        data = {"from": src.value if src else None, "to": dst.value, **(extra or {})}
        self._event(cx, card_id, kind or EVENT_KIND[action], actor, now, data, run_id)

    def _status(self, cx: Connection, card_id: int, sql: str = q.CARD_STATUS) -> Status:
        """The card's status, or NotFound naming the id."""
        row = cx.execute(sql, {"id": card_id}).fetchone()
        if row is None:
            raise NotFound(
                f"card {card_id} does not exist", cli_hint="see `hermes board list --all`"
            )
        return Status(row[0])

    def _lock(self, cx: Connection, card_id: int, *, share: bool = False) -> Status:
        """The card's status, its row locked until the transaction ends (shared: others
        may read and share it, none may change it); NotFound naming the id."""
        return self._status(cx, card_id, self._sql.share_card if share else self._sql.lock_card)

    def _share_dependencies(self, cx: Connection, card_id: int) -> None:
        """Keep the card's dependencies from finishing until this transaction ends, so
        the statuses it reads next stay true (PostgreSQL; SQLite writers are serialized)."""
        if self._sql.share_dependencies is not None:
            cx.execute(self._sql.share_dependencies, {"id": card_id})

    def _blockers(self, cx: Connection, card_id: int) -> list[int]:
        return [dep for (dep,) in cx.execute(q.BLOCKERS, {"id": card_id})]

    def _promote_dependents(self, cx: Connection, card_id: int, now: str) -> list[int]:
        """Make ready every waiting dependent of `card_id` whose last blocker just cleared."""
        if self._sql.lock_dependents is not None:
            cx.execute(self._sql.lock_dependents, {"id": card_id})
        promoted = [cid for (cid,) in cx.execute(q.PROMOTE_DEPENDENTS, {"id": card_id, "now": now})]
        for cid in promoted:
            self._transition(
                cx,
                cid,
                Status.WAITING,
                Status.READY,
                Action.PROMOTE,
                "board",
                now,
                {"after": card_id},
            )
        return promoted

    def _card_finished(self, cx: Connection, card_id: int, to: Status, now: str) -> None:
        """A card reached `to`: a done card readies its dependents, and any finished card
        may be the last one its goal waited for."""
        if to is Status.DONE:
            self._promote_dependents(cx, card_id, now)
        if to in FINISHED:
            if self._sql.lock_parent is not None:
                cx.execute(self._sql.lock_parent, {"child": card_id})
            row = cx.execute(q.PROMOTE_PARENT_GOAL, {"child": card_id, "now": now}).fetchone()
            if row is not None:
                self._goal_ready(cx, int(row[0]), now)

    def _goal_ready(self, cx: Connection, goal_id: int, now: str) -> None:
        """The event of a goal made ready for its judge: its children are finished."""
        data = {"children": "finished"}
        self._transition(
            cx, goal_id, Status.WAITING, Status.READY, Action.PROMOTE, "board", now, data
        )

    def _promote(self, cx: Connection, card_id: int, now: str, actor: str) -> bool:
        """Make one waiting card ready if nothing blocks it any more (the caller holds
        the card's row)."""
        self._share_dependencies(cx, card_id)
        if cx.execute(q.PROMOTE_CARD, {"id": card_id, "now": now}).fetchone() is None:
            return False
        self._transition(cx, card_id, Status.WAITING, Status.READY, Action.PROMOTE, actor, now)
        return True

    def _end_run(
        self,
        cx: Connection,
        run_id: int,
        outcome: str,
        now: str,
        *,
        error: str | None = None,
        exit_code: int | None = None,
        usage: Usage | None = None,
    ) -> None:
        """Close a live run with its outcome; the caller has checked it is live, so a run
        already ended is a lost race."""
        usage = usage or Usage()
        params = {
            "run_id": run_id,
            "outcome": outcome,
            "now": now,
            "exit_code": exit_code,
            "error": error,
            "tokens_in": usage.tokens_in,
            "tokens_out": usage.tokens_out,
            "cost_usd": usage.cost_usd,
        }
        self._apply(cx, q.END_RUN, params, f"ending run {run_id}")

    def _live_run(self, cx: Connection, run_id: int) -> LiveRunState | None:
        """The run if it still holds its card (the card's row locked), else None."""
        row = cx.execute(self._sql.live_run, {"run_id": run_id}).fetchone()
        if row is None:
            return None
        card_id, attempt, status, attempts, max_attempts = (
            row["card_id"],
            row["attempt"],
            row["status"],
            row["attempts"],
            row["max_attempts"],
        )
        return LiveRunState(card_id, attempt, Status(status), attempts, max_attempts)

    def _fence(self, cx: Connection, run_id: int | None) -> None:
        """Refuse a worker's write once its run no longer holds the card."""
        if run_id is not None and self._live_run(cx, run_id) is None:
            raise Fenced(f"run {run_id} no longer holds its card; the write was refused")
