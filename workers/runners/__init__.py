"""Runners: how a profile's cards are actually worked.

`command` runs the card body with bash. `agent` (an LLM tool-calling loop) and `cli`
(an external coding agent) arrive next; until then their cards fail with a clear error.
"""

from __future__ import annotations

from workers.runners.base import Outcome, RunContext, Runner
from workers.runners.command import CommandRunner

__all__ = ["CommandRunner", "Outcome", "RunContext", "Runner", "runner_for"]


def runner_for(kind: str) -> Runner:
    """The runner for a profile's `runner` field."""
    from hermes.errors import InvalidInput

    if kind == "command":
        return CommandRunner()
    raise InvalidInput(
        f"the {kind!r} runner is not available in this version yet; "
        "use a profile with runner: command (e.g. --profile shell)"
    )
