"""The card state machine: the statuses, and the one table of transitions between them.

Every status change the store makes is listed in `TRANSITIONS`, and the store derives its
conditional `WHERE status IN (...)` clauses from this table, so there is one place to read
what can happen to a card. A test replays the store's event log against the table.
Drawn in docs/states.md.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Status(StrEnum):
    """Where a card is in its life; the values are the contract's status names."""

    BACKLOG = "backlog"
    WAITING = "waiting"
    READY = "ready"
    RUNNING = "running"
    NEEDS_INPUT = "needs_input"
    REVIEW = "review"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Action(StrEnum):
    """What moved a card; each action writes an event of the kind in `EVENT_KIND`."""

    CREATE = "create"
    PROMOTE = "promote"  # its last dependency finished (or was removed)
    BLOCK = "block"  # a dependency on an unfinished card was added to a ready card
    MOVE = "move"  # a human's manual move
    CLAIM = "claim"
    COMPLETE = "complete"
    PAUSE = "pause"  # the worker waits for a human (approval or question)
    RESUME = "resume"
    FAIL = "fail"  # the attempt failed; retried later if attempts remain
    RECLAIM = "reclaim"  # the worker died or its lease expired
    RELEASE = "release"  # the dispatcher is stopping: back to ready, attempt given back
    PLAN = "plan"  # a goal's planner turn is over: it waits for its child cards
    CANCEL = "cancel"
    RETRY = "retry"  # a human re-opens a failed or cancelled card


class Transition(NamedTuple):
    """One allowed status change; `src` is None for a card's creation."""

    src: Status | None
    dst: Status
    action: Action


S = Status
A = Action

#: Statuses a card never leaves on its own; `failed` can still be retried by a human.
FINISHED: frozenset[Status] = frozenset({S.DONE, S.FAILED, S.CANCELLED})

#: Statuses from which `cancel` applies: everything not already done or cancelled.
CANCELLABLE: tuple[Status, ...] = (
    S.BACKLOG,
    S.WAITING,
    S.READY,
    S.RUNNING,
    S.NEEDS_INPUT,
    S.REVIEW,
    S.FAILED,
)

TRANSITIONS: frozenset[Transition] = frozenset(
    [
        Transition(None, S.BACKLOG, A.CREATE),
        Transition(None, S.WAITING, A.CREATE),
        Transition(None, S.READY, A.CREATE),
        Transition(S.WAITING, S.READY, A.PROMOTE),
        Transition(S.READY, S.WAITING, A.BLOCK),
        Transition(S.BACKLOG, S.WAITING, A.MOVE),
        Transition(S.BACKLOG, S.READY, A.MOVE),
        Transition(S.WAITING, S.BACKLOG, A.MOVE),
        Transition(S.READY, S.BACKLOG, A.MOVE),
        Transition(S.REVIEW, S.DONE, A.MOVE),
        Transition(S.REVIEW, S.READY, A.MOVE),
        Transition(S.READY, S.RUNNING, A.CLAIM),
        Transition(S.RUNNING, S.DONE, A.COMPLETE),
        Transition(S.RUNNING, S.REVIEW, A.COMPLETE),
        Transition(S.RUNNING, S.NEEDS_INPUT, A.PAUSE),
        Transition(S.NEEDS_INPUT, S.RUNNING, A.RESUME),
        Transition(S.RUNNING, S.READY, A.FAIL),
        Transition(S.RUNNING, S.FAILED, A.FAIL),
        Transition(S.NEEDS_INPUT, S.READY, A.FAIL),  # its deadline passed while it waited
        Transition(S.NEEDS_INPUT, S.FAILED, A.FAIL),
        Transition(S.RUNNING, S.READY, A.RECLAIM),
        Transition(S.RUNNING, S.FAILED, A.RECLAIM),
        Transition(S.NEEDS_INPUT, S.READY, A.RECLAIM),
        Transition(S.NEEDS_INPUT, S.FAILED, A.RECLAIM),
        Transition(S.RUNNING, S.WAITING, A.PLAN),
        Transition(S.RUNNING, S.READY, A.RELEASE),
        Transition(S.NEEDS_INPUT, S.READY, A.RELEASE),
        Transition(S.FAILED, S.READY, A.RETRY),  # it ran, so its dependencies are done
        Transition(S.CANCELLED, S.READY, A.RETRY),
        Transition(S.CANCELLED, S.WAITING, A.RETRY),
        *(Transition(src, S.CANCELLED, A.CANCEL) for src in CANCELLABLE),
    ]
)

#: The event kind each action writes; status-changing events carry `from` and `to`.
EVENT_KIND: dict[Action, str] = {
    A.CREATE: "created",
    A.PROMOTE: "ready",
    A.BLOCK: "blocked",
    A.MOVE: "moved",
    A.CLAIM: "claimed",
    A.COMPLETE: "completed",
    A.PAUSE: "needs_input",
    A.RESUME: "resumed",
    A.FAIL: "failed",
    A.RECLAIM: "reclaimed",
    A.RELEASE: "released",
    A.PLAN: "planned",
    A.CANCEL: "cancelled",
    A.RETRY: "retried",
}

#: Event kind -> the action it records: `EVENT_KIND` inverted, plus the kinds that refine
#: a resume (a human approved or rejected a paused action, or answered a question).
ANSWER_KINDS = ("approved", "rejected", "answered")
ACTION_OF_KIND: dict[str, Action] = {kind: action for action, kind in EVENT_KIND.items()} | {
    kind: A.RESUME for kind in ANSWER_KINDS
}


def is_allowed(src: Status | None, dst: Status, action: Action) -> bool:
    """Whether the table allows `action` to move a card from `src` to `dst`."""
    return Transition(src, dst, action) in TRANSITIONS


def sources(action: Action) -> tuple[Status, ...]:
    """The statuses `action` may start from, in enum order (for `WHERE status IN`)."""
    found = {t.src for t in TRANSITIONS if t.action is action and t.src is not None}
    return tuple(s for s in Status if s in found)


def move_targets(src: Status) -> tuple[Status, ...]:
    """Where a human may move a card that is in `src` with `hermes board move`."""
    found = {t.dst for t in TRANSITIONS if t.action is A.MOVE and t.src is src}
    return tuple(s for s in Status if s in found)


def parse_status(text: str) -> Status:
    """The Status named `text`, or a clear error listing the valid names."""
    from hermes.errors import InvalidInput

    try:
        return Status(text.strip().lower())
    except ValueError:
        names = ", ".join(s.value for s in Status)
        raise InvalidInput(f"unknown status {text!r}; use one of: {names}") from None
