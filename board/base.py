"""What every part of the store shares: the database handle, the event writer, promotion.

Each public store operation is one transaction that makes its conditional UPDATE and
writes its event row together; these helpers run inside such a transaction.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from board import queries as q
from board.cards import Usage
from board.db import Database
from board.status import EVENT_KIND, FINISHED, Action, Status, is_allowed
from hermes.errors import Fenced, NotFound

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class LiveRunState:
    """A live run as the fencing check sees it: its card, attempt and the card's status."""

    card_id: int
    attempt: int
    status: Status
    attempts: int
    max_attempts: int


def to_json_text(value: Any) -> str:
    """Compact JSON that keeps non-ASCII text readable in the database."""
    return _ENCODER.encode(value)


class StoreBase:
    """The database handle plus helpers used inside write transactions."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def db(self) -> Database:
        """The underlying database (for `data_version` polling and closing)."""
        return self._db

    def _event(
        self,
        cx: sqlite3.Connection,
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
        cx: sqlite3.Connection,
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

    def _status(self, cx: sqlite3.Connection, card_id: int) -> Status:
        """The card's status, or NotFound naming the id."""
        row = cx.execute(q.CARD_STATUS, {"id": card_id}).fetchone()
        if row is None:
            raise NotFound(
                f"card {card_id} does not exist", cli_hint="see `hermes board list --all`"
            )
        return Status(row[0])

    def _blockers(self, cx: sqlite3.Connection, card_id: int) -> list[int]:
        return [dep for (dep,) in cx.execute(q.BLOCKERS, {"id": card_id})]

    def _promote_dependents(self, cx: sqlite3.Connection, card_id: int, now: str) -> list[int]:
        """Make ready every waiting dependent of `card_id` whose last blocker just cleared."""
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

    def _card_finished(self, cx: sqlite3.Connection, card_id: int, to: Status, now: str) -> None:
        """A card reached `to`: a done card readies its dependents, and any finished card
        may be the last one its goal waited for."""
        if to is Status.DONE:
            self._promote_dependents(cx, card_id, now)
        if to in FINISHED:
            row = cx.execute(q.PROMOTE_PARENT_GOAL, {"child": card_id, "now": now}).fetchone()
            if row is not None:
                self._goal_ready(cx, int(row[0]), now)

    def _goal_ready(self, cx: sqlite3.Connection, goal_id: int, now: str) -> None:
        """The event of a goal made ready for its judge: its children are finished."""
        data = {"children": "finished"}
        self._transition(
            cx, goal_id, Status.WAITING, Status.READY, Action.PROMOTE, "board", now, data
        )

    def _promote(self, cx: sqlite3.Connection, card_id: int, now: str, actor: str) -> bool:
        """Make one waiting card ready if nothing blocks it any more."""
        if cx.execute(q.PROMOTE_CARD, {"id": card_id, "now": now}).fetchone() is None:
            return False
        self._transition(cx, card_id, Status.WAITING, Status.READY, Action.PROMOTE, actor, now)
        return True

    def _end_run(
        self,
        cx: sqlite3.Connection,
        run_id: int,
        outcome: str,
        now: str,
        *,
        error: str | None = None,
        exit_code: int | None = None,
        usage: Usage | None = None,
    ) -> None:
        """Close a live run with its outcome (a no-op if it already ended)."""
        usage = usage or Usage()
        cx.execute(
            q.END_RUN,
            {
                "run_id": run_id,
                "outcome": outcome,
                "now": now,
                "exit_code": exit_code,
                "error": error,
                "tokens_in": usage.tokens_in,
                "tokens_out": usage.tokens_out,
                "cost_usd": usage.cost_usd,
            },
        )

    def _live_run(self, cx: sqlite3.Connection, run_id: int) -> LiveRunState | None:
        row = cx.execute(q.LIVE_RUN, {"run_id": run_id}).fetchone()
        if row is None:
            return None
        card_id, attempt, status, attempts, max_attempts = row
        return LiveRunState(card_id, attempt, Status(status), attempts, max_attempts)

    def _fence(self, cx: sqlite3.Connection, run_id: int | None) -> None:
        """Refuse a worker's write once its run no longer holds the card."""
        if run_id is not None and self._live_run(cx, run_id) is None:
            raise Fenced(f"run {run_id} no longer holds its card; the write was refused")
