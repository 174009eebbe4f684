"""Goals on the board: a goal card hands its work to child cards, waits for all of them to
finish (done, failed or cancelled) without holding a worker, then runs again for its
judge. This module keeps that waiting honest: parking the goal after a planner turn, and
waking it when its last child finishes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from board import queries as q
from board.base import StoreBase, retried
from board.cards import Usage
from board.clock import iso
from board.status import Action, Status


class GoalCommands(StoreBase):
    """Goal budgets, children, parking and waking."""

    def goal_turns(self, card_id: int) -> int:
        """How many planner turns a goal has had (its `planned` events)."""
        return int(self._db.cx.execute(q.GOAL_TURNS, {"id": card_id}).fetchone()[0])

    def goal_budget(self, card_id: int) -> int | None:
        """The goal's planner-turn budget, or None if the card is not a goal."""
        row = self._db.cx.execute(q.GOAL_BUDGET, {"id": card_id}).fetchone()
        return None if row is None else int(row[0])

    @retried
    def park_goal(
        self, run_id: int, now: datetime, data: dict[str, Any], usage: Usage | None = None
    ) -> bool:
        """End a planner turn: the goal waits for its children (or, if they are all
        finished already, is ready again at once). False if the run was fenced off."""
        with self._db.write() as cx:
            stamp = iso(self._now(cx, now))
            live = self._live_run(cx, run_id)
            if live is None or live.status is not Status.RUNNING:
                return False
            params = {"now": stamp, "card_id": live.card_id, "run_id": run_id}
            self._apply(cx, q.PARK_GOAL, params, f"parking goal {live.card_id}")
            self._end_run(cx, run_id, "done", stamp, exit_code=0, usage=usage)
            self._transition(
                cx,
                live.card_id,
                Status.RUNNING,
                Status.WAITING,
                Action.PLAN,
                f"run:{run_id}",
                stamp,
                data,
                run_id,
            )
            # no child unfinished (none planned, or all already done): judge at once
            self._share_dependencies(cx, live.card_id)
            if cx.execute(q.PROMOTE_CARD, {"id": live.card_id, "now": stamp}).fetchone():
                self._goal_ready(cx, live.card_id, stamp)
        return True
