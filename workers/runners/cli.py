"""The `cli` runner: hand the card to an external coding agent (claude, codex, aider...).

The profile's `command` is a template: `{prompt}` becomes the card (title, body,
comments, its dependencies' results), `{workspace}` its worktree, `{card_id}` its id.
The agent runs in the worktree like a `command` card: its own process group, output in
the run log, the card's timeout, heartbeats, and hermes commits what it changed.
"""

from __future__ import annotations

import shutil

from workers.agent.prompt import card_prompt
from workers.runners.base import Outcome, RunContext
from workers.runners.command import run_process


class CliRunner:
    """Runs the profile's agent command with the card as its prompt."""

    def run(self, ctx: RunContext) -> Outcome:
        """Start the agent CLI and wait for it like any command."""
        template = ctx.profile.command or []
        if not template or shutil.which(template[0]) is None:
            name = template[0] if template else "(none)"
            return Outcome(
                False,
                "",
                f"the agent CLI {name!r} is not installed or not on PATH "
                f"(profile {ctx.profile.name!r}); install it or use another profile",
            )
        values = {
            "{prompt}": card_prompt(ctx.store.detail(ctx.card.id), ctx.store),
            "{workspace}": str(ctx.workspace),
            "{card_id}": str(ctx.card.id),
        }
        argv = [_fill(arg, values) for arg in template]
        return run_process(argv, ctx)


def _fill(arg: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        arg = arg.replace(placeholder, value)
    return arg
