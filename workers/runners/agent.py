"""The `agent` runner: an LLM tool-calling loop in the card's workspace."""

from __future__ import annotations

from workers.agent.human import HumanGate
from workers.agent.loop import AgentLoop
from workers.agent.messages import Message
from workers.agent.model import ModelClient, ModelError
from workers.agent.prompt import card_prompt, system_prompt
from workers.agent.toolbox import AgentContext, Toolbox
from workers.agent.transcript import Transcript
from workers.runners.base import Outcome, RunContext


class AgentRunner:
    """Builds the prompt and the tools for one run, then runs the loop."""

    def run(self, ctx: RunContext) -> Outcome:
        """Work the card with the profile's model until it answers or a limit is hit."""
        from hermes.paths import skills_dir
        from skills import index

        try:
            client = ModelClient(ctx.profile)
        except ModelError as exc:
            return Outcome(False, "", str(exc))
        detail = ctx.store.detail(ctx.card.id)
        card = detail.card
        agent = AgentContext(card, ctx.run_id, ctx.workspace, ctx.profile, ctx.store)
        toolbox = Toolbox(agent, HumanGate(ctx.store, ctx.run_id, ctx.lost))
        skills = index(skills_dir()) if "skills" in ctx.profile.tools else ""
        opening = [
            Message("system", system_prompt(ctx.profile, card, skills)),
            Message("user", card_prompt(detail, ctx.store)),
        ]
        loop = AgentLoop(ctx.profile, client, toolbox, Transcript(ctx.log_path), ctx.lost)
        return loop.run(opening)
