"""Pausing for a human: an approval of a risky command, or an answer to a question.

The worker moves its card to `needs_input` with the request as the event's data, keeps
heartbeating (from its heartbeat thread) and polls the board until a human answers with
`hermes board approve|reject|reply` (or, later, a chat button). A low-risk request is
approved by the worker itself if nobody answers in time. Whoever drives the answer, the
worker sees it the same way: as the event that resumed its run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from board import Store
from board.clock import utcnow
from board.status import ANSWER_KINDS
from workers.attempt import Attempt

POLL = 0.2


class LeaseLost(Exception):
    """The attempt must end while it waited (the run was reclaimed or cancelled, or its
    deadline passed): stop without writing."""


@dataclass(frozen=True, slots=True)
class Answer:
    """How a human (or the timeout) answered: `approved`, `rejected` or `answered`."""

    kind: str
    data: dict[str, Any]


class HumanGate:
    """Asks the board's humans on behalf of one run."""

    def __init__(self, store: Store, run_id: int, attempt: Attempt) -> None:
        self._store, self._run_id, self._attempt = store, run_id, attempt

    def ask(self, request: dict[str, Any], approve_after: float | None = None) -> Answer:
        """Pause the card with `request` and wait for the answer (or the auto-approval)."""
        before = len(self._store.run_events(self._run_id, ANSWER_KINDS))
        if not self._store.pause(self._run_id, utcnow(), request):
            raise LeaseLost()
        self._attempt.waiting()
        try:
            return self._wait(before, approve_after)
        finally:
            self._attempt.answered()

    def _wait(self, before: int, approve_after: float | None) -> Answer:
        deadline = None if approve_after is None else time.monotonic() + approve_after
        while True:
            if self._attempt.stop.wait(POLL):
                raise LeaseLost()
            answers = self._store.run_events(self._run_id, ANSWER_KINDS)
            if len(answers) > before:
                return Answer(answers[-1].kind, answers[-1].data)
            if not self._live():
                raise LeaseLost()
            if deadline is not None and time.monotonic() >= deadline:
                auto: dict[str, Any] = {"auto": True, "after_seconds": approve_after}
                if self._store.resume(
                    self._run_id, utcnow(), auto, kind="approved", actor=f"run:{self._run_id}"
                ):
                    return Answer("approved", auto)

    def _live(self) -> bool:
        run = self._store.run(self._run_id)
        return run is not None and run.outcome == "running"
