"""The chaos suite at CI size: 150 cards, three dispatchers, under a minute of faults.

The standalone run (`python -m tests.chaos`, 1,000 cards by default) is the long one;
see docs/reliability.md. CHAOS_SEED=<n> replays a seed.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.chaos.run import run_chaos


def test_a_dag_survives_killed_and_frozen_workers_and_dispatchers(hermes_home: Path) -> None:
    hermes_home.mkdir(parents=True, exist_ok=True)
    seed = int(os.environ.get("CHAOS_SEED", "20261121"))
    outcome = run_chaos(hermes_home, cards=150, dispatchers=3, concurrency=3, seed=seed)
    assert outcome.violations == [], f"seed {seed}\n{outcome.summary()}"
    # the faults really happened, or the run proved nothing
    assert outcome.actions["kill worker"] and outcome.actions["freeze worker"]
    assert outcome.actions["kill dispatcher"] and outcome.actions["freeze dispatcher"]
    assert outcome.runs > outcome.cards  # some attempts were lost and retried
