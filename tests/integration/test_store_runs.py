"""The hot path: claims, leases, heartbeats, outcomes, fencing and promotion."""

from __future__ import annotations

from datetime import timedelta

import pytest

from board import Backoff, NewCard, Status, Store, Usage
from board.clock import iso
from tests.conftest import T0


def new(store: Store, title: str = "card", **fields: object) -> int:
    fields.setdefault("profile", "shell")
    fields.setdefault("max_attempts", 3)
    return store.add_card(NewCard(title=title, **fields), T0)[0]  # type: ignore[arg-type]


def test_claim_takes_highest_priority_then_oldest(store: Store) -> None:
    low, high_old, high_new = new(store, priority=1), new(store, priority=5), new(store, priority=5)
    order = [store.claim(T0, 60) for _ in range(3)]
    assert [c.card_id for c in order if c] == [high_old, high_new, low]
    assert store.claim(T0, 60) is None


def test_claim_opens_a_run_with_a_lease(store: Store) -> None:
    card_id = new(store)
    claim = store.claim(T0, 60, worker="w1", host="h", pid=123)
    assert claim is not None
    assert (claim.card_id, claim.attempt, claim.lease_expires_at) == (
        card_id,
        1,
        iso(T0 + timedelta(seconds=60)),
    )
    detail = store.detail(card_id)
    assert detail.card.status == "running" and detail.card.attempts == 1
    run = detail.runs[0]
    assert (run.id, run.worker, run.host, run.pid, run.outcome) == (
        claim.run_id,
        "w1",
        "h",
        123,
        "running",
    )
    assert detail.events[-1].kind == "claimed"


def test_claim_respects_not_before(store: Store) -> None:
    new(store, not_before=iso(T0 + timedelta(minutes=10)))
    assert store.claim(T0, 60) is None
    assert store.claim(T0 + timedelta(minutes=10), 60) is not None


def test_claim_skips_profiles_without_free_slots(store: Store) -> None:
    new(store, profile="default")
    shell = new(store, profile="shell")
    assert store.claim(T0, 60, skip_profiles=["default", "shell"]) is None
    claim = store.claim(T0, 60, skip_profiles=["default", "planner"])
    assert claim is not None and claim.card_id == shell
    assert store.running_by_profile() == {"shell": 1}


def test_heartbeat_extends_the_lease_until_the_run_ends(store: Store) -> None:
    new(store)
    claim = store.claim(T0, 60)
    assert claim is not None
    later = T0 + timedelta(seconds=50)
    assert store.heartbeat(claim.run_id, later, 60)
    assert store.expired_runs(T0 + timedelta(seconds=100)) == []
    assert store.expired_runs(T0 + timedelta(seconds=111)) == [claim.run_id]
    assert store.complete(claim.run_id, later)
    assert store.heartbeat(claim.run_id, later, 60) is False


def test_complete_records_result_and_usage(store: Store) -> None:
    card_id = new(store)
    claim = store.claim(T0, 60)
    assert claim is not None
    usage = Usage(tokens_in=1200, tokens_out=300, cost_usd=0.0042)
    assert store.complete(claim.run_id, T0 + timedelta(seconds=3), result="all green", usage=usage)
    detail = store.detail(card_id)
    assert (detail.card.status, detail.card.result) == ("done", "all green")
    run = detail.runs[0]
    assert (run.outcome, run.exit_code, run.tokens_in, run.tokens_out, run.cost_usd) == (
        "done",
        0,
        1200,
        300,
        0.0042,
    )
    assert run.ended_at == iso(T0 + timedelta(seconds=3))
    assert store.stats(T0)["runs"]["by_profile"]["shell"]["cost_usd"] == 0.0042


def test_completion_promotes_only_dependents_with_nothing_else_pending(store: Store) -> None:
    a, b = new(store), new(store)
    after_a = new(store, after=[a])
    after_both = new(store, after=[a, b])
    unrelated = new(store, after=[b])
    claim = store.claim(T0, 60)
    assert claim is not None and claim.card_id == a
    store.complete(claim.run_id, T0)
    statuses = {c: store.card(c).status for c in (after_a, after_both, unrelated)}
    assert statuses == {after_a: "ready", after_both: "waiting", unrelated: "waiting"}
    assert store.card(after_both).blocked_by == [b]


def test_review_profiles_finish_in_review_without_promoting(store: Store) -> None:
    a = new(store)
    b = new(store, after=[a])
    claim = store.claim(T0, 60)
    assert claim and store.complete(claim.run_id, T0, review=True)
    assert store.card(a).status == "review" and store.card(b).status == "waiting"


def test_failure_retries_with_backoff_then_fails(store: Store) -> None:
    card_id = new(store, max_attempts=2)
    first = store.claim(T0, 60)
    assert first is not None
    assert store.fail(first.run_id, T0, "exit 1", exit_code=1, backoff=Backoff(base=10))
    card = store.card(card_id)
    assert card.status == "ready" and card.not_before == iso(T0 + timedelta(seconds=10))
    assert store.claim(T0 + timedelta(seconds=9), 60) is None
    second = store.claim(T0 + timedelta(seconds=10), 60)
    assert second is not None and second.attempt == 2
    assert store.fail(second.run_id, T0 + timedelta(seconds=20), "still broken", outcome="timeout")
    detail = store.detail(card_id)
    assert detail.card.status == "failed"
    assert [(r.attempt, r.outcome, r.error) for r in detail.runs] == [
        (1, "failed", "exit 1"),
        (2, "timeout", "still broken"),
    ]
    assert detail.events[-1].data["error"] == "still broken"


def test_reclaim_returns_the_card_and_fences_the_old_worker(store: Store) -> None:
    card_id = new(store)
    claim = store.claim(T0, 60)
    assert claim is not None
    assert store.reclaim(claim.run_id, T0 + timedelta(seconds=61), "lease expired")
    assert store.card(card_id).status == "ready"
    assert store.complete(claim.run_id, T0) is False  # the zombie cannot finish it
    assert store.fail(claim.run_id, T0, "late") is False
    assert store.reclaim(claim.run_id, T0, "again") is False
    retry = store.claim(T0 + timedelta(seconds=62), 60)
    assert retry is not None and retry.attempt == 2
    assert [r.outcome for r in store.detail(card_id).runs] == ["reclaimed", "running"]


def test_reclaim_fails_the_card_when_attempts_are_spent(store: Store) -> None:
    card_id = new(store, max_attempts=1)
    claim = store.claim(T0, 60)
    assert claim and store.reclaim(claim.run_id, T0, "worker died")
    assert store.card(card_id).status == "failed"


def test_pause_and_resume_keep_the_run(store: Store) -> None:
    card_id = new(store)
    claim = store.claim(T0, 60)
    assert claim is not None
    request = {"kind": "approval", "command": "git push --force", "risk": "high"}
    assert store.pause(claim.run_id, T0, request)
    assert store.card(card_id).status == "needs_input"
    assert store.complete(claim.run_id, T0) is False  # paused: it must be answered first
    assert store.heartbeat(claim.run_id, T0, 60)  # the waiting worker keeps its lease
    assert store.resume(claim.run_id, T0, {"reason": "ok"}, kind="approved", actor="bob")
    assert store.card(card_id).status == "running"
    assert store.resume(claim.run_id, T0, {}) is False
    assert store.complete(claim.run_id, T0)
    assert [e.kind for e in store.detail(card_id).events][-3:] == [
        "needs_input",
        "approved",
        "completed",
    ]


def test_pending_requests_are_what_each_paused_card_waits_for_now(store: Store) -> None:
    first, second, running = new(store), new(store), new(store)
    runs = [store.claim(T0, 60) for _ in range(3)]
    assert all(runs)
    ask = {"kind": "question", "question": "eu or us?"}
    assert store.pause(runs[0].run_id, T0, {"kind": "approval", "command": "make deploy"})  # type: ignore[union-attr]
    assert store.resume(runs[0].run_id, T0, {}, kind="approved")  # type: ignore[union-attr]
    assert store.pause(runs[0].run_id, T0, ask)  # type: ignore[union-attr]
    assert store.pause(runs[1].run_id, T0, {"kind": "approval", "command": "rm -rf /x"})  # type: ignore[union-attr]
    assert store.pending_requests() == {
        first: ask,
        second: {"kind": "approval", "command": "rm -rf /x"},
    }
    assert running not in store.pending_requests()


def test_a_paused_card_of_a_dead_worker_is_reclaimed(store: Store) -> None:
    card_id = new(store)
    claim = store.claim(T0, 60)
    assert claim and store.pause(claim.run_id, T0, {"kind": "question"})
    assert store.reclaim(claim.run_id, T0, "worker died")
    assert store.card(card_id).status == "ready"


#: SQLite's query plans (EXPLAIN QUERY PLAN): PostgreSQL's planner chooses by table
#: statistics, so an empty test board says nothing about a full one there.
sqlite_plans = pytest.mark.engines("sqlite")


@sqlite_plans
@pytest.mark.parametrize("statement", ["claim", "promote"])
def test_hot_path_queries_use_their_indexes(store: Store, statement: str) -> None:
    """Claims and promotion must never scan the board."""
    from board import queries as q

    sql, params = {
        "claim": (
            q.CLAIM_RUN.format(profile_filter=""),
            {"worker": None, "host": None, "pid": None, "now": "", "lease_expires_at": ""},
        ),
        "promote": (q.PROMOTE_DEPENDENTS, {"id": 1, "now": ""}),
    }[statement]
    steps = [row[-1] for row in store.db.cx.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    plan = " | ".join(steps)
    # Walking the partial index of ready cards in claim order is fine; a scan of the
    # table itself, or sorting all ready cards, is not.
    assert not [s for s in steps if s.startswith("SCAN cards") and "USING" not in s], plan
    assert "TEMP B-TREE" not in plan, plan
    expected = {"claim": "ix_cards_ready", "promote": "ix_dependencies_depends_on"}[statement]
    assert expected in plan, plan


@sqlite_plans
def test_the_dispatchers_live_runs_read_uses_the_live_index(store: Store) -> None:
    """Every dispatcher wake lists live runs: never by walking every run ever made."""
    from board import queries as q

    steps = [row[-1] for row in store.db.cx.execute(f"EXPLAIN QUERY PLAN {q.LIVE_RUNS}")]
    plan = " | ".join(steps)
    assert any(s.startswith("SCAN r USING INDEX ix_runs_live") for s in steps), plan


@sqlite_plans
def test_the_next_scheduled_start_is_one_index_step(store: Store) -> None:
    """Every dispatcher wake asks when the next scheduled card starts."""
    from board import queries as q

    sql = f"EXPLAIN QUERY PLAN {q.NEXT_START}"
    plan = " | ".join(row[-1] for row in store.db.cx.execute(sql, {"now": ""}))
    assert "ix_cards_scheduled (not_before>?)" in plan, plan


@sqlite_plans
def test_the_idle_check_reads_partial_indexes_only(store: Store) -> None:
    """An `--until-idle` dispatcher asks on every wake: never by reading the history."""
    from board import queries as q

    steps = [row[-1] for row in store.db.cx.execute(f"EXPLAIN QUERY PLAN {q.ACTIVE_CARD}")]
    plan = " | ".join(steps)
    assert not [
        s for s in steps if s.startswith("SCAN ") and " USING " not in s and "CONSTANT" not in s
    ], plan
    assert "ix_cards_ready" in plan and "ix_runs_live" in plan, plan


def test_idle_means_nothing_ready_running_or_paused(store: Store) -> None:
    assert store.is_idle()
    waiting = new(store)
    new(store, after=[waiting])
    assert not store.is_idle()  # one is ready
    claim = store.claim(T0, 60)
    assert claim and not store.is_idle()  # one is running, the other waits on it
    assert store.pause(claim.run_id, T0, {"question": "which?"})
    assert not store.is_idle()  # paused for a human
    store.cancel(waiting, T0)
    assert store.is_idle()  # what is left waits on a cancelled card: nothing can run


def test_run_status_transitions_write_status_from_to(store: Store) -> None:
    card_id = new(store)
    claim = store.claim(T0, 60)
    assert claim and store.complete(claim.run_id, T0)
    changes = [(e.data.get("from"), e.data["to"]) for e in store.detail(card_id).events]
    assert changes == [(None, "ready"), ("ready", "running"), ("running", "done")]
    assert Status(store.card(card_id).status) is Status.DONE


def test_the_worker_records_itself_and_its_workspace(store: Store) -> None:
    card_id = new(store)
    claim = store.claim(T0, 60, worker="dispatcher-1")
    assert claim is not None
    workspace = {"branch": "hermes/card-1", "worktree": "/w/card-1"}
    assert store.start_run(claim.run_id, T0, 60, pid=4242, host="box", **workspace)
    assert store.set_runner(claim.run_id, 4243)
    detail = store.detail(card_id)
    run = detail.runs[0]
    assert (run.worker, run.pid, run.host, run.runner_pid) == ("dispatcher-1", 4242, "box", 4243)
    assert (detail.card.branch, detail.card.worktree) == ("hermes/card-1", "/w/card-1")
    assert detail.events[-1].kind == "started"
    assert [lr.run.id for lr in store.live_runs()] == [claim.run_id]
    store.reclaim(claim.run_id, T0, "gone")
    assert store.start_run(claim.run_id, T0, 60, pid=1, host="x", worktree="/elsewhere") is False
    assert store.set_runner(claim.run_id, 1) is False
    assert store.card(card_id).worktree == "/w/card-1"
    assert store.live_runs() == []


def test_release_gives_the_attempt_back(store: Store) -> None:
    card_id = new(store, max_attempts=1)
    claim = store.claim(T0, 60)
    assert claim and store.release(claim.run_id, T0, "dispatcher stopping")
    card = store.card(card_id)
    assert (card.status, card.attempts) == ("ready", 0)
    assert store.detail(card_id).runs[0].outcome == "reclaimed"
    assert store.claim(T0, 60) is not None  # a single-attempt card can still run


def test_next_deadline_and_idleness(store: Store) -> None:
    assert store.is_idle() and store.next_deadline(T0) is None
    later = T0 + timedelta(minutes=5)
    new(store, not_before=iso(later))
    assert not store.is_idle()
    assert store.next_deadline(T0) == later
    claim = store.claim(later, 30)
    assert claim is not None
    assert store.next_deadline(later) == later + timedelta(seconds=30)
    store.complete(claim.run_id, later)
    assert store.is_idle()


def test_waiting_behind_a_failed_card_is_idle(store: Store) -> None:
    a = new(store, max_attempts=1)
    new(store, after=[a])
    claim = store.claim(T0, 60)
    assert claim and store.fail(claim.run_id, T0, "boom")
    assert store.is_idle()


def test_dispatcher_registry(store: Store) -> None:
    store.register_dispatcher("d1", T0, host="box", pid=10, concurrency=4)
    store.dispatcher_beat("d1", T0 + timedelta(seconds=5))
    (info,) = store.dispatchers(T0)
    assert (info.id, info.heartbeat_at, info.stopped_at) == (
        "d1",
        iso(T0 + timedelta(seconds=5)),
        None,
    )
    store.dispatcher_beat("d1", T0 + timedelta(seconds=9), stopped=True)
    assert store.dispatchers(T0 + timedelta(minutes=1))[0].stopped_at is not None
    assert store.dispatchers(T0 + timedelta(hours=2)) == []


def test_notes_cannot_fake_status_changes(store: Store) -> None:
    card_id = new(store)
    store.note(card_id, "merged", T0, "cli", {"into": "main"})
    assert store.detail(card_id).events[-1].data == {"into": "main"}
    with pytest.raises(ValueError, match="change a card's status"):
        store.note(card_id, "completed", T0, "cli", {})


def test_a_conditional_reclaim_loses_to_a_heartbeat_that_landed_first(store: Store) -> None:
    store.add_card(NewCard("a", "shell", 3), T0)
    claim = store.claim(T0, 60)
    assert claim is not None
    later = T0 + timedelta(seconds=61)  # the dispatcher saw the lease expired here...
    assert store.heartbeat(claim.run_id, later, 60)  # ...but the worker beat first
    assert store.reclaim(claim.run_id, later, "lease expired", if_expired=True) is False
    assert store.run(claim.run_id).outcome == "running"
    assert store.reclaim(claim.run_id, later + timedelta(seconds=61), "x", if_expired=True)


def test_a_worker_starting_renews_the_lease(store: Store) -> None:
    store.add_card(NewCard("a", "shell", 3), T0)
    claim = store.claim(T0, 2)
    assert claim is not None
    assert store.start_run(claim.run_id, T0 + timedelta(seconds=5), 2, pid=4242, host="box")
    run = store.run(claim.run_id)
    assert run is not None and run.lease_expires_at == "2026-03-01T12:00:07.000000Z"
