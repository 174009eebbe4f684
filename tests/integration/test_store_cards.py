"""Card commands against a real SQLite board: creation, dependencies, moves, history."""

from __future__ import annotations

from datetime import timedelta

import pytest

from board import CardFilter, NewCard, Status, Store
from board.clock import iso
from hermes.errors import CycleError, IllegalTransition, InvalidInput, NotFound
from tests.conftest import T0


def new(store: Store, title: str = "card", **fields: object) -> int:
    fields.setdefault("profile", "shell")
    fields.setdefault("max_attempts", 3)
    card_id, created = store.add_card(NewCard(title=title, **fields), T0)  # type: ignore[arg-type]
    assert created
    return card_id


def status(store: Store, card_id: int) -> str:
    return store.card(card_id).status


def kinds(store: Store, card_id: int) -> list[str]:
    return [event.kind for event in store.detail(card_id).events]


def test_a_card_without_dependencies_is_ready(store: Store) -> None:
    card = store.card(new(store, "First", body="do it", labels=["a", "b", "a"], priority=3))
    assert (card.status, card.title, card.body, card.priority) == ("ready", "First", "do it", 3)
    assert card.labels == ["a", "b"]
    assert card.created_at == card.updated_at == iso(T0)
    assert kinds(store, card.id) == ["created"]


def test_dependencies_make_a_card_wait_until_all_are_done(store: Store) -> None:
    a, b = new(store), new(store)
    c = new(store, after=[a, b, a])
    card = store.card(c)
    assert card.status == "waiting"
    assert card.depends_on == [a, b] and card.blocked_by == [a, b]
    assert store.card(a).dependents == [c]


def test_a_card_after_done_cards_is_ready(store: Store) -> None:
    a = new(store)
    store.move(a, Status.BACKLOG, T0)
    store.move(a, Status.READY, T0)
    claim = store.claim(T0, 60)
    assert claim is not None and store.complete(claim.run_id, T0)
    assert status(store, new(store, after=[a])) == "ready"


def test_backlog_cards_are_parked(store: Store) -> None:
    assert status(store, new(store, backlog=True)) == "backlog"


def test_unknown_dependency_creates_nothing(store: Store) -> None:
    with pytest.raises(NotFound, match="card 42 does not exist"):
        new(store, after=[42])
    assert store.list_cards(CardFilter(include_old=True), T0) == []


def test_unknown_parent_creates_nothing(store: Store) -> None:
    with pytest.raises(NotFound, match="card 7 does not exist"):
        new(store, parent_id=7)
    assert store.stats(T0)["cards"] == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": "  "}, "the title is empty"),
        ({"max_attempts": 0}, "--max-attempts 0"),
        ({"timeout": -5.0}, "--timeout -5"),
        ({"key": " "}, "--key is empty"),
        ({"labels": [""]}, "--label is empty"),
    ],
)
def test_invalid_cards_are_refused(store: Store, fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        new(store, **fields)
    assert store.stats(T0)["cards"] == 0


def test_key_makes_creation_idempotent(store: Store) -> None:
    first = new(store, "nightly", key="cron:1:2026-03-01")
    again = store.add_card(
        NewCard("something else", "shell", 3, key="cron:1:2026-03-01"), T0 + timedelta(hours=1)
    )
    assert again == (first, False)
    assert store.stats(T0)["cards"] == 1


def test_dependency_cycles_are_refused_with_the_cycle_named(store: Store) -> None:
    a = new(store)
    b = new(store, after=[a])
    c = new(store, after=[b])
    with pytest.raises(CycleError, match=r"cycle 1 -> 3 -> 2 -> 1"):
        store.add_dependency(a, c, T0)
    with pytest.raises(CycleError, match="card 2 cannot depend on itself"):
        store.add_dependency(b, b, T0)
    assert store.card(a).depends_on == []


def test_adding_a_dependency_blocks_a_ready_card(store: Store) -> None:
    a, b = new(store), new(store)
    assert store.add_dependency(b, a, T0) is True
    assert status(store, b) == "waiting"
    assert kinds(store, b) == ["created", "dependency_added", "blocked"]
    assert store.add_dependency(b, a, T0) is False  # already there: nothing written
    assert kinds(store, b) == ["created", "dependency_added", "blocked"]


def test_dependencies_cannot_be_added_to_started_cards(store: Store) -> None:
    a, b = new(store), new(store)
    claim = store.claim(T0, 60)
    assert claim is not None and claim.card_id == a
    with pytest.raises(IllegalTransition, match="card 1 is running"):
        store.add_dependency(a, b, T0)


def test_removing_the_last_blocker_makes_the_card_ready(store: Store) -> None:
    a = new(store)
    b = new(store, after=[a])
    store.remove_dependency(b, a, T0)
    assert status(store, b) == "ready"
    assert kinds(store, b)[-2:] == ["dependency_removed", "ready"]
    with pytest.raises(InvalidInput, match="card 2 does not depend on card 1"):
        store.remove_dependency(b, a, T0)


def test_manual_moves_follow_the_table(store: Store) -> None:
    a = new(store, backlog=True)
    assert store.move(a, Status.READY, T0) is Status.READY
    assert store.move(a, Status.BACKLOG, T0) is Status.BACKLOG
    with pytest.raises(IllegalTransition, match="cannot move card 1 from backlog to running"):
        store.move(a, Status.RUNNING, T0)
    assert status(store, a) == "backlog"


def test_moving_to_waiting_with_nothing_to_wait_for_makes_ready(store: Store) -> None:
    a = new(store, backlog=True)
    assert store.move(a, Status.WAITING, T0) is Status.READY
    assert kinds(store, a) == ["created", "moved", "ready"]


def test_a_blocked_card_cannot_be_moved_to_ready(store: Store) -> None:
    a = new(store)
    b = new(store, after=[a], backlog=True)
    with pytest.raises(IllegalTransition, match="it waits for 1; move it to waiting"):
        store.move(b, Status.READY, T0)
    assert store.move(b, Status.WAITING, T0) is Status.WAITING


def test_done_cards_cannot_move_and_failed_ones_point_to_retry(store: Store) -> None:
    a = new(store, max_attempts=1)
    claim = store.claim(T0, 60)
    assert claim and store.fail(claim.run_id, T0, "boom")
    with pytest.raises(IllegalTransition, match="hermes board retry 1"):
        store.move(a, Status.READY, T0)


def test_review_to_done_promotes_dependents(store: Store) -> None:
    a = new(store)
    b = new(store, after=[a])
    claim = store.claim(T0, 60)
    assert claim and store.complete(claim.run_id, T0, result="looks right", review=True)
    assert status(store, a) == "review" and status(store, b) == "waiting"
    store.move(a, Status.DONE, T0)
    assert status(store, b) == "ready"
    assert store.detail(a).card.attempts == 1  # approving keeps the attempt it took


def test_review_sent_back_to_ready_gets_fresh_attempts(store: Store) -> None:
    a = new(store, max_attempts=1)
    claim = store.claim(T0, 60)
    assert claim and store.complete(claim.run_id, T0, result="not yet", review=True)
    store.move(a, Status.READY, T0)
    assert status(store, a) == "ready" and store.detail(a).card.attempts == 0


def test_cancel_ends_the_live_run_and_fences_its_worker(store: Store) -> None:
    a = new(store)
    claim = store.claim(T0, 60)
    assert claim is not None
    store.cancel(a, T0, reason="not needed")
    assert status(store, a) == "cancelled"
    assert store.detail(a).runs[0].outcome == "cancelled"
    assert store.complete(claim.run_id, T0) is False
    assert store.heartbeat(claim.run_id, T0, 60) is False
    with pytest.raises(IllegalTransition, match="already cancelled"):
        store.cancel(a, T0)


def test_dependents_of_a_cancelled_card_keep_waiting(store: Store) -> None:
    a = new(store)
    b = new(store, after=[a])
    store.cancel(a, T0)
    assert store.card(b).status == "waiting"
    assert store.card(b).blocked_by == [a]


def test_retry_reopens_with_fresh_attempts(store: Store) -> None:
    a = new(store, max_attempts=1)
    claim = store.claim(T0, 60)
    assert claim and store.fail(claim.run_id, T0, "boom")
    assert store.card(a).attempts == 1
    assert store.retry(a, T0) is Status.READY
    assert store.card(a).attempts == 0
    with pytest.raises(IllegalTransition, match="only failed or cancelled"):
        store.retry(a, T0)


def test_retry_of_a_blocked_card_waits(store: Store) -> None:
    a = new(store)
    b = new(store, after=[a])
    store.cancel(b, T0)
    assert store.retry(b, T0) is Status.WAITING


def test_comments_are_events(store: Store) -> None:
    a = new(store)
    store.comment(a, "use the staging DB", T0, actor="alice")
    event = store.detail(a).events[-1]
    assert (event.kind, event.actor, event.data) == (
        "comment",
        "alice",
        {"text": "use the staging DB"},
    )
    with pytest.raises(InvalidInput, match="comment is empty"):
        store.comment(a, "  ", T0)
    with pytest.raises(NotFound):
        store.comment(99, "x", T0)


def test_list_filters(store: Store) -> None:
    a = new(store, labels=["ops"], profile="shell")
    b = new(store, labels=["ops", "db"], profile="default", backlog=True)
    new(store, labels=["opsx", 'we"ird'])
    assert [c.id for c in store.list_cards(CardFilter(statuses=["backlog"]), T0)] == [b]
    assert [c.id for c in store.list_cards(CardFilter(profile="shell"), T0)] == [a, 3]
    assert [c.id for c in store.list_cards(CardFilter(label="ops"), T0)] == [a, b]
    assert [c.id for c in store.list_cards(CardFilter(label='we"ird'), T0)] == [3]
    assert [c.id for c in store.list_cards(CardFilter(label="OPS"), T0)] == []
    assert [c.id for c in store.list_cards(CardFilter(label="%"), T0)] == []


def test_list_hides_cards_finished_more_than_a_day_ago(store: Store) -> None:
    a, b = new(store), new(store)
    store.cancel(a, T0)
    later = T0 + timedelta(days=1, seconds=1)
    store.cancel(b, later)
    assert [c.id for c in store.list_cards(CardFilter(), later)] == [b]
    assert [c.id for c in store.list_cards(CardFilter(include_old=True), later)] == [a, b]


def test_list_carries_dependency_edges(store: Store) -> None:
    a = new(store)
    b = new(store, after=[a])
    c = new(store, after=[a, b])
    cards = {c.id: c for c in store.list_cards(CardFilter(), T0)}
    assert cards[a].dependents == [b, c]
    assert cards[c].depends_on == [a, b] and cards[c].blocked_by == [a, b]
    only_c = store.list_cards(CardFilter(statuses=["waiting"]), T0)
    assert [(x.id, x.depends_on, x.dependents) for x in only_c] == [(b, [a], [c]), (c, [a, b], [])]


def test_stats_count_cards_and_runs(store: Store) -> None:
    new(store)
    new(store, profile="default")
    claim = store.claim(T0, 60)
    assert claim is not None
    store.complete(claim.run_id, T0 + timedelta(seconds=5))
    stats = store.stats(T0 + timedelta(seconds=30))
    assert stats["cards"] == 2
    assert stats["by_status"]["done"] == 1 and stats["by_status"]["ready"] == 1
    assert stats["by_profile"] == {"shell": {"done": 1}, "default": {"ready": 1}}
    assert stats["oldest_ready_age_seconds"] == 30.0
    assert stats["runs"]["by_profile"]["shell"]["runs"] == 1


def test_a_parked_goal_waits_for_its_children_whatever_else_unblocks_it(store: Store) -> None:
    """Removing a goal's own dependency, or finishing a new one, does not wake it while a
    child it planned is unfinished; the last child finishing does."""
    dep = new(store)
    goal, _ = store.add_card(NewCard("goal", "planner", 3, after=[dep], budget=3), T0)
    finish = store.claim(T0, 60)
    assert finish and store.complete(finish.run_id, T0)  # dep done: the goal is ready
    turn = store.claim(T0, 60)
    assert turn is not None and turn.card_id == goal
    child, _ = store.add_card(NewCard("child", "shell", 3, parent_id=goal), T0)
    store.park_goal(turn.run_id, T0, {"turn": 1})
    late = new(store)
    store.add_dependency(goal, late, T0)
    store.remove_dependency(goal, late, T0)
    assert status(store, goal) == "waiting"  # the child is still ready
    store.add_dependency(goal, late, T0)
    store.cancel(late, T0)
    assert status(store, goal) == "waiting"
    store.remove_dependency(goal, late, T0)
    other = store.claim(T0, 60)
    assert other is not None and other.card_id == child
    assert store.complete(other.run_id, T0)
    assert status(store, goal) == "ready"
