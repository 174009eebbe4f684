"""Every status change the store makes is in the transition table, and every entry of
the table is something the store actually does.

A scenario drives every store operation on a real board; the event log (each status
change carries `from` and `to`) is then replayed against `TRANSITIONS`.
"""

from __future__ import annotations

from datetime import timedelta

from board import TRANSITIONS, Backoff, NewCard, Status, Store
from board.status import ACTION_OF_KIND, Transition
from tests.conftest import T0


def new(store: Store, **fields: object) -> int:
    fields.setdefault("max_attempts", 2)
    return store.add_card(NewCard(title="t", profile="shell", **fields), T0)[0]  # type: ignore[arg-type]


def run_once(store: Store, card_id: int) -> int:
    claim = store.claim(T0, 60)
    assert claim is not None and claim.card_id == card_id, (claim, card_id)
    return claim.run_id


def exercise_every_operation(store: Store) -> None:
    """Drive every store operation; comments name the transitions each line makes."""
    later = T0 + timedelta(hours=1)
    a = new(store)  # -> ready
    b = new(store, after=[a])  # -> waiting
    c = new(store, backlog=True)  # -> backlog
    store.move(c, Status.WAITING, T0)  # backlog -> waiting, then waiting -> ready (promote)
    store.move(c, Status.BACKLOG, T0)  # ready -> backlog
    store.move(c, Status.READY, T0)  # backlog -> ready
    store.add_dependency(c, b, T0)  # ready -> waiting (block)
    store.move(c, Status.BACKLOG, T0)  # waiting -> backlog
    store.cancel(c, T0)  # backlog -> cancelled
    store.retry(c, T0)  # cancelled -> waiting (b is unfinished)
    store.cancel(c, T0)  # waiting -> cancelled

    run = run_once(store, a)  # ready -> running
    store.pause(run, T0, {"kind": "question"})  # running -> needs_input
    store.resume(run, T0, {"answer": "yes"})  # needs_input -> running
    store.complete(run, T0, review=True)  # running -> review
    store.move(a, Status.READY, T0)  # review -> ready
    store.complete(run_once(store, a), T0, review=True)
    store.move(a, Status.DONE, T0)  # review -> done; b: waiting -> ready

    store.fail(run_once(store, b), T0, "boom")  # running -> ready (attempt 1 of 2)
    store.cancel(b, T0)  # ready -> cancelled
    store.retry(b, T0)  # cancelled -> ready
    store.fail(run_once(store, b), T0, "boom")
    claim = store.claim(later, 60)
    assert claim is not None and claim.card_id == b
    store.fail(claim.run_id, later, "boom")  # running -> failed
    store.retry(b, T0)  # failed -> ready
    store.cancel(b, T0)

    d = new(store, max_attempts=1)
    store.reclaim(run_once(store, d), T0, "dead")  # running -> failed
    store.cancel(d, T0)  # failed -> cancelled
    e = new(store)
    store.reclaim(run_once(store, e), T0, "dead")  # running -> ready
    run = run_once(store, e)
    store.pause(run, T0, {"kind": "approval"})
    store.reclaim(run, T0, "dead")  # needs_input -> failed
    f = new(store, max_attempts=3)
    run = run_once(store, f)
    store.pause(run, T0, {"kind": "approval"})
    store.reclaim(run, T0, "dead")  # needs_input -> ready
    run = run_once(store, f)
    store.pause(run, T0, {"kind": "approval"})
    store.cancel(f, T0)  # needs_input -> cancelled
    store.retry(f, T0)
    run_once(store, f)
    store.cancel(f, T0)  # running -> cancelled
    store.retry(f, T0)
    store.complete(run_once(store, f), T0, review=True)
    store.cancel(f, T0)  # review -> cancelled
    store.complete(run_once(store, new(store)), T0)  # running -> done
    g = new(store)
    store.release(run_once(store, g), T0, "dispatcher stopping")  # running -> ready
    run = run_once(store, g)
    store.pause(run, T0, {"kind": "question"})
    store.release(run, T0, "dispatcher stopping")  # needs_input -> ready
    store.complete(run_once(store, g), T0)
    h = new(store, max_attempts=2)
    run = run_once(store, h)
    store.pause(run, T0, {"kind": "question"})
    now = Backoff(0, 0)  # ready again at once
    store.fail(run, T0, "timed out", outcome="timeout", backoff=now)  # needs_input -> ready
    run = run_once(store, h)
    store.pause(run, T0, {"kind": "question"})
    store.fail(run, T0, "timed out", outcome="timeout")  # needs_input -> failed
    goal = new(store, budget=3)
    run = run_once(store, goal)
    child = new(store, parent_id=goal)
    store.park_goal(run, T0, {"turn": 1})  # running -> waiting (plan)
    store.complete(run_once(store, child), T0)  # the last child is done: goal waiting -> ready


def observed(store: Store) -> set[Transition]:
    seen: set[Transition] = set()
    rows = store.db.cx.execute("SELECT kind, data FROM events ORDER BY id").fetchall()
    import json

    for kind, data in rows:
        payload = json.loads(data)
        if "to" not in payload:
            continue
        src = Status(payload["from"]) if payload["from"] else None
        seen.add(Transition(src, Status(payload["to"]), ACTION_OF_KIND[kind]))
    return seen


def test_the_store_only_makes_transitions_in_the_table(store: Store) -> None:
    exercise_every_operation(store)
    made = observed(store)
    assert made - TRANSITIONS == set(), "transitions missing from the table"


def test_every_transition_in_the_table_is_made_by_the_store(store: Store) -> None:
    exercise_every_operation(store)
    made = observed(store)
    assert TRANSITIONS - made == set(), "table entries no store operation makes"


def test_each_cards_events_form_a_path_through_the_machine(store: Store) -> None:
    exercise_every_operation(store)
    import json

    current: dict[int, Status | None] = {}
    for card_id, data in store.db.cx.execute("SELECT card_id, data FROM events ORDER BY id"):
        payload = json.loads(data)
        if "to" in payload:
            src = Status(payload["from"]) if payload["from"] else None
            assert current.get(card_id) == src, (card_id, payload)
            current[card_id] = Status(payload["to"])
    for card_id, status in current.items():
        assert store.card(card_id).status == status
