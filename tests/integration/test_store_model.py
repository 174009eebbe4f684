"""Random sequences of board operations against the real store, checked step by step
against a small in-memory model of the state machine (hypothesis stateful testing).

The model is deliberately naive: dictionaries and sets, the rules as the docs state
them. Every operation is applied to both; statuses, attempts, live runs and errors must
agree after every step, and a few invariants must hold throughout.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from board import CardFilter, NewCard, Status, Store, open_store
from board.status import move_targets
from hermes.errors import HermesError
from tests.conftest import T0

FINISHED = {"done", "failed", "cancelled"}
DEPENDABLE = {"backlog", "waiting", "ready"}
CANCELLABLE = {"backlog", "waiting", "ready", "running", "needs_input", "review", "failed"}


@dataclass
class ModelCard:
    status: str
    max_attempts: int
    deps: set[int] = field(default_factory=set)
    attempts: int = 0
    run: int | None = None


class Model:
    """The board as the documentation describes it."""

    def __init__(self) -> None:
        self.cards: dict[int, ModelCard] = {}
        self.live: dict[int, int] = {}  # run id -> card id

    def blockers(self, card: int) -> set[int]:
        return {d for d in self.cards[card].deps if self.cards[d].status != "done"}

    def add(self, deps: set[int], backlog: bool, max_attempts: int) -> None:
        status = (
            "backlog"
            if backlog
            else "waiting"
            if any(self.cards[d].status != "done" for d in deps)
            else "ready"
        )
        self.cards[len(self.cards) + 1] = ModelCard(status, max_attempts, set(deps))

    def reaches(self, start: int, goal: int) -> bool:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(self.cards[node].deps)
        return False

    def end_run(self, card: ModelCard) -> None:
        self.live = {r: c for r, c in self.live.items() if r != card.run}
        card.run = None

    def promote_dependents(self, done: int) -> None:
        for cid, card in self.cards.items():
            if done in card.deps and card.status == "waiting" and not self.blockers(cid):
                card.status = "ready"

    def take_back(self, run: int, attempts_left_status: str = "ready") -> None:
        card = self.cards[self.live[run]]
        card.status = attempts_left_status if card.attempts < card.max_attempts else "failed"
        self.end_run(card)


class BoardMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.TemporaryDirectory()
        self.store: Store = open_store(
            f"sqlite:///{Path(self.dir.name) / 'b.db'}", now=T0, synchronous="OFF"
        )
        self.model = Model()
        self.clock = T0
        self.runs: list[int] = []

    def teardown(self) -> None:
        self.store.close()
        self.dir.cleanup()

    def tick(self):  # type: ignore[no-untyped-def]
        self.clock += timedelta(hours=1)  # every retry backoff has passed by the next step
        return self.clock

    def expect(self, action, ok: bool) -> object:  # type: ignore[no-untyped-def]
        """Run a store operation that the model says should succeed (or be refused)."""
        try:
            result = action()
        except HermesError:
            assert not ok, "the store refused what the model allows"
            return None
        assert ok, "the store allowed what the model refuses"
        return result

    cards = st.integers(min_value=1, max_value=12)

    @rule(
        deps=st.sets(st.integers(1, 12), max_size=3),
        backlog=st.booleans(),
        max_attempts=st.integers(1, 3),
    )
    def add(self, deps: set[int], backlog: bool, max_attempts: int) -> None:
        deps = {d for d in deps if d in self.model.cards}
        self.store.add_card(
            NewCard("c", "shell", max_attempts, after=sorted(deps), backlog=backlog), self.tick()
        )
        self.model.add(deps, backlog, max_attempts)

    @precondition(lambda self: len(self.model.cards) >= 2)
    @rule(card=cards, on=cards)
    def dep_add(self, card: int, on: int) -> None:
        m = self.model
        if card not in m.cards or on not in m.cards:
            return
        ok = card != on and m.cards[card].status in DEPENDABLE and not m.reaches(on, card)
        self.expect(lambda: self.store.add_dependency(card, on, self.tick()), ok)
        if ok and on not in m.cards[card].deps:
            m.cards[card].deps.add(on)
            if m.cards[card].status == "ready" and m.cards[on].status != "done":
                m.cards[card].status = "waiting"

    @rule(card=cards, on=cards)
    def dep_rm(self, card: int, on: int) -> None:
        m = self.model
        if card not in m.cards or on not in m.cards:
            return
        ok = on in m.cards[card].deps
        self.expect(lambda: self.store.remove_dependency(card, on, self.tick()), ok)
        if ok:
            m.cards[card].deps.discard(on)
            if m.cards[card].status == "waiting" and not m.blockers(card):
                m.cards[card].status = "ready"

    @rule()
    def claim(self) -> None:
        claim = self.store.claim(self.tick(), 60)
        ready = sorted(cid for cid, c in self.model.cards.items() if c.status == "ready")
        assert (claim.card_id if claim else None) == (ready[0] if ready else None)
        if claim is not None:
            card = self.model.cards[claim.card_id]
            card.status, card.attempts, card.run = "running", card.attempts + 1, claim.run_id
            self.model.live[claim.run_id] = claim.card_id
            self.runs.append(claim.run_id)

    def run_of(self, index: int) -> int | None:
        return self.runs[index % len(self.runs)] if self.runs else None

    @rule(index=st.integers(0, 50))
    def heartbeat(self, index: int) -> None:
        run = self.run_of(index)
        if run is not None:
            assert self.store.heartbeat(run, self.tick(), 60) == (run in self.model.live)

    @rule(index=st.integers(0, 50), review=st.booleans())
    def complete(self, index: int, review: bool) -> None:
        run = self.run_of(index)
        if run is None:
            return
        m = self.model
        live = run in m.live and m.cards[m.live[run]].status == "running"
        assert self.store.complete(run, self.tick(), review=review) == live
        if live:
            cid = m.live[run]
            m.cards[cid].status = "review" if review else "done"
            m.end_run(m.cards[cid])
            if not review:
                m.promote_dependents(cid)

    @rule(index=st.integers(0, 50))
    def fail(self, index: int) -> None:
        run = self.run_of(index)
        if run is None:
            return
        m = self.model
        # a paused run fails too (a human who never answered, an attempt past its deadline)
        live = run in m.live and m.cards[m.live[run]].status in ("running", "needs_input")
        assert self.store.fail(run, self.tick(), "boom") == live
        if live:
            m.take_back(run)

    @rule(index=st.integers(0, 50))
    def reclaim(self, index: int) -> None:
        run = self.run_of(index)
        if run is None:
            return
        live = run in self.model.live
        assert self.store.reclaim(run, self.tick(), "test") == live
        if live:
            self.model.take_back(run)

    @rule(index=st.integers(0, 50))
    def pause_or_resume(self, index: int) -> None:
        run = self.run_of(index)
        if run is None or run not in self.model.live:
            return
        card = self.model.cards[self.model.live[run]]
        if card.status == "running":
            assert self.store.pause(run, self.tick(), {"kind": "question"})
            card.status = "needs_input"
        else:
            assert self.store.resume(run, self.tick(), {"answer": "yes"}, kind="answered")
            card.status = "running"

    @rule(card=cards)
    def cancel(self, card: int) -> None:
        m = self.model
        if card not in m.cards:
            return
        ok = m.cards[card].status in CANCELLABLE
        self.expect(lambda: self.store.cancel(card, self.tick()), ok)
        if ok:
            m.cards[card].status = "cancelled"
            m.end_run(m.cards[card])

    @rule(card=cards)
    def retry(self, card: int) -> None:
        m = self.model
        if card not in m.cards:
            return
        ok = m.cards[card].status in ("failed", "cancelled")
        self.expect(lambda: self.store.retry(card, self.tick()), ok)
        if ok:
            m.cards[card].status = "waiting" if m.blockers(card) else "ready"
            m.cards[card].attempts = 0

    @rule(card=cards, to=st.sampled_from(list(Status)))
    def move(self, card: int, to: Status) -> None:
        m = self.model
        if card not in m.cards:
            return
        src = m.cards[card].status
        blocked = to is Status.READY and bool(m.blockers(card)) and src not in FINISHED
        ok = to in move_targets(Status(src)) and not blocked
        self.expect(lambda: self.store.move(card, to, self.tick()), ok)
        if not ok:
            return
        target = m.cards[card]
        if src == "review" and to is Status.READY:
            target.attempts = 0
        target.status = to.value
        if to is Status.DONE:
            m.promote_dependents(card)
        if to is Status.WAITING and not m.blockers(card):
            target.status = "ready"

    @invariant()
    def statuses_and_attempts_agree(self) -> None:
        cards = self.store.list_cards(CardFilter(include_old=True), self.clock)
        assert {c.id: c.status for c in cards} == {i: c.status for i, c in self.model.cards.items()}
        assert {c.id: c.attempts for c in cards} == {
            i: c.attempts for i, c in self.model.cards.items()
        }
        assert {c.id: set(c.depends_on) for c in cards} == {
            i: c.deps for i, c in self.model.cards.items()
        }

    @invariant()
    def exactly_the_live_cards_hold_a_run(self) -> None:
        live = {lr.run.id: lr.run.card_id for lr in self.store.live_runs()}
        assert live == self.model.live
        for lr in self.store.live_runs():
            assert lr.status in ("running", "needs_input")


BoardMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestBoardAgainstModel = BoardMachine.TestCase
