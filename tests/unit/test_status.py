"""The transition table itself: its shape and the questions the store asks of it."""

from __future__ import annotations

import pytest

from board.status import (
    ACTION_OF_KIND,
    CANCELLABLE,
    EVENT_KIND,
    TRANSITIONS,
    Action,
    Status,
    is_allowed,
    move_targets,
    parse_status,
    sources,
)
from hermes.errors import InvalidInput


def test_statuses_are_exactly_the_contracts() -> None:
    assert [s.value for s in Status] == [
        "backlog",
        "waiting",
        "ready",
        "running",
        "needs_input",
        "review",
        "done",
        "failed",
        "cancelled",
    ]


def test_every_status_is_reachable_from_creation() -> None:
    reached = {t.dst for t in TRANSITIONS if t.src is None}
    frontier = set(reached)
    while frontier:
        frontier = {t.dst for t in TRANSITIONS if t.src in frontier} - reached
        reached |= frontier
    assert reached == set(Status)


def test_done_is_final_and_running_is_only_entered_by_claim_or_resume() -> None:
    assert not [t for t in TRANSITIONS if t.src is Status.DONE]
    into_running = {t.action for t in TRANSITIONS if t.dst is Status.RUNNING}
    assert into_running == {Action.CLAIM, Action.RESUME}
    assert not is_allowed(Status.DONE, Status.RUNNING, Action.MOVE)


def test_every_action_writes_an_event_kind_that_maps_back() -> None:
    assert set(EVENT_KIND) == set(Action)
    for action, kind in EVENT_KIND.items():
        assert ACTION_OF_KIND[kind] is action


def test_sources_follow_the_table() -> None:
    assert sources(Action.CLAIM) == (Status.READY,)
    assert sources(Action.CANCEL) == CANCELLABLE
    assert Status.DONE not in CANCELLABLE and Status.CANCELLED not in CANCELLABLE
    assert sources(Action.RETRY) == (Status.FAILED, Status.CANCELLED)
    assert sources(Action.RECLAIM) == (Status.RUNNING, Status.NEEDS_INPUT)


def test_manual_moves() -> None:
    assert move_targets(Status.BACKLOG) == (Status.WAITING, Status.READY)
    assert move_targets(Status.REVIEW) == (Status.READY, Status.DONE)
    assert move_targets(Status.DONE) == ()
    assert move_targets(Status.RUNNING) == ()


@pytest.mark.parametrize("text", ["ready", "READY", " done "])
def test_parse_status_accepts_names(text: str) -> None:
    assert parse_status(text).value == text.strip().lower()


def test_parse_status_names_the_bad_value_and_the_choices() -> None:
    with pytest.raises(InvalidInput, match=r"unknown status 'doing'; use one of: backlog, "):
        parse_status("doing")
