"""The chaos checkers find what they look for: histories broken on purpose are caught,
so a passing chaos run means the board really kept its promises."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from board import NewCard, Store
from tests.chaos.invariants import Sampler, check_board, healthy_workers_kept_their_cards
from tests.conftest import T0

#: The histories are forged with sqlite3 on a SQLite board; the checkers read either
#: engine the same way (plain SQL), and the PostgreSQL chaos runs use them.
pytestmark = pytest.mark.engines("sqlite")

FORGED_EVENT = (
    "INSERT INTO events (card_id, run_id, at, kind, actor, data) "
    "VALUES (?, ?, '2026-03-01T12:00:00Z', 'claimed', 'x', ?)"
)


def finish_one(store: Store) -> int:
    claim = store.claim(T0, 60)
    assert claim is not None and store.complete(claim.run_id, T0)
    return claim.run_id


def forge(db: Path, sql: str, *args: object) -> None:
    cx = sqlite3.connect(db, isolation_level=None)
    cx.execute(sql, args)
    cx.close()


def test_a_sound_history_passes(store: Store, hermes_home: Path) -> None:
    a, _ = store.add_card(NewCard("a", "shell", 3), T0)
    b, _ = store.add_card(NewCard("b", "shell", 3, after=[a]), T0)
    finish_one(store)
    finish_one(store)
    assert check_board(hermes_home / "board.db", {a: [], b: [a]}) == []


def test_unfinished_cards_and_claims_before_dependencies_are_caught(
    store: Store, hermes_home: Path
) -> None:
    a, _ = store.add_card(NewCard("a", "shell", 3), T0)
    b, _ = store.add_card(NewCard("b", "shell", 3), T0)  # the board does not know b waits
    c, _ = store.add_card(NewCard("c", "shell", 3), T0)
    finish_one(store)
    finish_one(store)
    found = check_board(hermes_home / "board.db", {a: [], b: [c], c: []})
    assert f"card {c} ended ready, not done" in found
    assert f"card {b} was claimed before its dependency {c} was done" in found


def test_a_second_claim_while_a_run_lives_and_a_skipped_status_are_caught(
    store: Store, hermes_home: Path
) -> None:
    a, _ = store.add_card(NewCard("a", "shell", 3), T0)
    run = finish_one(store)
    db = hermes_home / "board.db"
    data = json.dumps({"from": "done", "to": "running"})
    forge(db, FORGED_EVENT, a, run + 1, data)
    forge(db, FORGED_EVENT, a, run + 2, data)
    found = check_board(db, {a: []})
    assert any(f"run {run + 2} claimed while run {run + 1} lived" in f for f in found)
    assert any("claimed done -> running does not follow" in f for f in found)


def test_two_live_runs_and_a_dead_workers_lease_are_caught(store: Store, hermes_home: Path) -> None:
    a, _ = store.add_card(NewCard("a", "shell", 3), T0)
    claim = store.claim(T0, 60)
    assert claim is not None
    db = hermes_home / "board.db"
    forge(db, "UPDATE runs SET pid = 999999999 WHERE id = ?", claim.run_id)  # no such pid
    forge(
        db,
        "INSERT INTO runs (card_id, attempt, started_at, heartbeat_at, lease_expires_at, "
        "outcome) SELECT card_id, 2, started_at, heartbeat_at, lease_expires_at, outcome "
        "FROM runs WHERE id = ?",
        claim.run_id,
    )
    sampler = Sampler(db, lease=0.0)
    cx = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
    sampler.sample(cx)
    sampler.dead_since = {run: when - 5 for run, when in sampler.dead_since.items()}
    sampler.sample(cx)
    cx.close()
    assert f"card {a} had 2 live runs: [{claim.run_id}, {claim.run_id + 1}]" in sampler.violations
    assert any("after its worker pid 999999999 died" in v for v in sampler.violations)


def test_a_healthy_worker_losing_its_card_is_caught(store: Store, hermes_home: Path) -> None:
    store.add_card(NewCard("a", "shell", 3), T0)
    claim = store.claim(T0, 60)
    assert claim is not None
    db = hermes_home / "board.db"
    forge(db, "UPDATE runs SET pid = 4242 WHERE id = ?", claim.run_id)
    store.reclaim(claim.run_id, T0, "lease expired")
    assert healthy_workers_kept_their_cards(db, hit={4242}) == []
    assert healthy_workers_kept_their_cards(db, hit=set()) != []


def test_the_dag_has_the_size_asked_and_only_points_backwards() -> None:
    import random

    from tests.chaos.dag import build_dag

    for size in range(1, 120):
        nodes = build_dag(random.Random(size), size)
        assert len(nodes) == size
        assert all(d < i for i, node in enumerate(nodes) for d in node.deps)
    shapes = build_dag(random.Random(0), 1000)
    assert sum(len(n.deps) > 1 for n in shapes) > 10  # diamonds and fan-ins are there
