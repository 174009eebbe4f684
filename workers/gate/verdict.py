"""What the gate decides about a command: a level and a reason a person can act on.

The type lives here, not in `workers.agent.risk`, so the rule modules can build verdicts
without importing the public face that imports them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Level = Literal["high", "medium", "low"]

RANK: dict[Level, int] = {"low": 1, "medium": 2, "high": 3}


@dataclass(frozen=True, slots=True)
class Risk:
    """A risky command's level and the reason, as the approval request shows them."""

    level: Level
    reason: str


def worst(risks: Iterable[Risk | None]) -> Risk | None:
    """The highest-level risk (the first found among equals), or None when there is none.

    The first among equals is kept because the rules run in the order the commands
    appear, so the reason names what a reader meets first.
    """
    best: Risk | None = None
    for risk in risks:
        if risk is not None and (best is None or RANK[risk.level] > RANK[best.level]):
            best = risk
    return best
