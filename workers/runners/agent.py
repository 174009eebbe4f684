"""The `agent` runner: an LLM tool-calling loop in the card's workspace."""

from __future__ import annotations

from workers.agent.loop import AgentLoop
from workers.agent.messages import Message
from workers.agent.model import ModelClient, ModelError
from workers.agent.prompt import card_prompt, skill_index, system_prompt
from workers.agent.toolbox import Toolbox
from workers.agent.transcript import Transcript
from workers.runners.base import Outcome, RunContext


class AgentRunner:
    """Builds the prompt and the tools for one run, then runs the loop."""

    def run(self, ctx: RunContext) -> Outcome:
        """Work the card with the profile's model until it answers or a limit is hit."""
        try:
            client = ModelClient(ctx.profile)
        except ModelError as exc:
            return Outcome(False, "", str(exc), final=not exc.retryable)
        transcript = Transcript(ctx.log_path, ctx.masker)
        loop = AgentLoop(ctx.profile, client, Toolbox(ctx), transcript, ctx.attempt)
        if ctx.resume is not None:
            resume = ctx.resume
            transcript.note(
                f"resumed from run {resume.from_run}: {len(resume.messages)} messages, "
                f"{len(resume.pending)} tool call(s) to finish"
            )
            return loop.run(resume.messages, resume.pending)
        detail = ctx.store.detail(ctx.card.id)
        card = detail.card
        opening = [
            Message("system", system_prompt(ctx.profile, card, skill_index(ctx.profile))),
            Message("user", card_prompt(detail, ctx.store)),
        ]
        return loop.run(opening)
