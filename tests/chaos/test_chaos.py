"""The chaos runs (`pytest -m slow tests/chaos`): 150 cards, three dispatchers, a
minute or two of faults; and several hosts sharing one PostgreSQL board, whole hosts
killed and frozen.

The standalone run (`python -m tests.chaos`, 1,000 cards by default) is the long one;
see docs/reliability.md. CHAOS_SEED=<n> replays a seed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.chaos.invariants import read_only
from tests.chaos.run import run_chaos

SEED = int(os.environ.get("CHAOS_SEED", "20261121"))


@pytest.mark.parametrize(
    "engine",
    [
        # long (one to two minutes on 2 cores, the end of the suite's run): `pytest -m slow`
        pytest.param("sqlite", marks=pytest.mark.slow),
        pytest.param("postgres", marks=pytest.mark.slow),
    ],
    indirect=True,
)
def test_a_dag_survives_killed_and_frozen_workers_and_dispatchers(
    hermes_home: Path, db_url: str
) -> None:
    hermes_home.mkdir(parents=True, exist_ok=True)
    outcome = run_chaos(
        hermes_home, cards=150, dispatchers=3, concurrency=3, seed=SEED, db_url=db_url
    )
    assert outcome.violations == [], f"seed {SEED}\n{outcome.summary()}"
    # the faults really happened, or the run proved nothing
    assert outcome.actions["kill worker"] and outcome.actions["freeze worker"]
    assert outcome.actions["kill dispatcher"] and outcome.actions["freeze dispatcher"]
    assert outcome.runs > outcome.cards  # some attempts were lost and retried


@pytest.mark.engines("postgres")
@pytest.mark.parametrize(
    # both long: the suite's 15 minutes on 2 cores cannot hold them; `pytest -m slow`
    "cards",
    [pytest.param(100, marks=pytest.mark.slow), pytest.param(1000, marks=pytest.mark.slow)],
    ids=["short", "full"],
)
def test_hosts_that_vanish_lose_their_runs_and_their_cards_finish_elsewhere(
    hermes_home: Path, db_url: str, cards: int
) -> None:
    """Four hosts (each its own HERMES_HOST and HERMES_HOME) share one PostgreSQL board;
    whole hosts are killed with SIGKILL or frozen with SIGSTOP, workers and all."""
    hermes_home.mkdir(parents=True, exist_ok=True)
    outcome = run_chaos(
        hermes_home,
        cards=cards,
        dispatchers=4,
        concurrency=3,
        seed=SEED,
        db_url=db_url,
        hosts=True,
    )
    assert outcome.violations == [], f"seed {SEED}\n{outcome.summary()}"
    assert outcome.actions["kill host"] and outcome.actions["freeze host"]
    assert outcome.runs > outcome.cards  # some attempts were lost and retried
    cx = read_only(db_url)
    try:  # each run records the host (HERMES_HOST) that ran it, and every host worked
        hosts = {host for (host,) in cx.execute("SELECT DISTINCT host FROM runs")}
    finally:
        cx.close()
    assert hosts == {f"host-{i}" for i in range(4)}
