"""Runners: how a profile's cards are actually worked.

`command` runs the card body with bash; `agent` is an LLM tool-calling loop
(`workers.agent`); `cli` hands the card to an external coding agent.
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
    if kind == "agent":
        from workers.runners.agent import AgentRunner

        return AgentRunner()
    if kind == "cli":
        from workers.runners.cli import CliRunner

        return CliRunner()
    raise InvalidInput(f"unknown runner {kind!r}; use command, agent or cli")
