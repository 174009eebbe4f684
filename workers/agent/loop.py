"""The agent loop: ask the model, run the tools it calls, until it answers without one.

Explicit steps with hard limits: before every model call the budgets (turns, wall time,
tokens, cost) are checked, and hitting one ends the run failed with the budget named.
Tool failures go back to the model as `error: ...` results; only a lost lease (or a
model that cannot be called) ends the run early. The answer without a tool call is the
card's result. After a long run (5+ tool calls) a profile with `learn: true` gets one
extra turn to save what it learned as a skill.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from board import Usage
from profiles import Profile
from workers.agent.human import LeaseLost
from workers.agent.messages import Message, Spend, ToolCall
from workers.agent.model import ModelClient, ModelError
from workers.agent.toolbox import Toolbox
from workers.agent.transcript import Transcript
from workers.attempt import Attempt
from workers.runners.base import Outcome

LEARN_AFTER_TOOL_CALLS = 5
LEARN_PROMPT = (
    "Before you finish: did this card teach a procedure worth reusing on other cards, or "
    "show that an existing skill is wrong or incomplete? If so, call skill_create once "
    "(an existing name replaces that skill). If not, reply 'no'."
)


def over_budget(profile: Profile, spend: Spend, started: float) -> str | None:
    """The budget this run has used up, named as the failure will show it, or None."""
    if spend.turns >= profile.max_turns:
        return f"budget exceeded: max_turns {profile.max_turns}"
    if profile.max_seconds is not None and time.monotonic() - started >= profile.max_seconds:
        return f"budget exceeded: max_seconds {profile.max_seconds:g}"
    tokens = spend.tokens_in + spend.tokens_out
    if profile.max_tokens is not None and tokens >= profile.max_tokens:
        return f"budget exceeded: max_tokens {profile.max_tokens} ({tokens} used)"
    if profile.max_cost is not None and (spend.cost_usd or 0.0) >= profile.max_cost:
        return f"budget exceeded: max_cost ${profile.max_cost:g} (${spend.cost_usd:.4f} spent)"
    return None


class AgentLoop:
    """One agent run over an opening conversation."""

    def __init__(
        self,
        profile: Profile,
        client: ModelClient,
        toolbox: Toolbox,
        transcript: Transcript,
        attempt: Attempt,
    ) -> None:
        self.profile, self.client, self.toolbox = profile, client, toolbox
        self.transcript, self.attempt = transcript, attempt
        self.spend = Spend()

    def run(self, opening: list[Message], pending: Sequence[ToolCall] = ()) -> Outcome:
        """Work until the model answers, a budget runs out, or the lease is lost.

        `pending` are tool calls of the conversation's last turn still to run (a resumed
        conversation: see `workers.agent.resume`); they run before the next model call."""
        messages = list(opening)
        self.transcript.prompt(messages)
        try:
            tools = self.toolbox.specs()  # starts the profile's MCP servers, if any
            started = time.monotonic()  # their start-up is not the loop's wall time
            if pending:
                self._run_tools(messages, Message("assistant", None, tuple(pending)))
            while True:
                budget = over_budget(self.profile, self.spend, started)
                if budget is not None:
                    self.transcript.note(budget)
                    return self._outcome(False, "", budget)
                reply = self.client.complete(messages, tools, self.transcript.text)
                self.spend.add(reply)
                self.transcript.reply(reply)
                messages.append(reply.message)
                if not reply.message.tool_calls:
                    answer = (reply.message.text or "").strip()
                    self._maybe_learn(messages)
                    return self._outcome(True, answer, None)
                self._run_tools(messages, reply.message)
        except LeaseLost:
            return self._outcome(False, "", "stopped")
        except ModelError as exc:
            self.transcript.note(str(exc))
            return self._outcome(False, "", str(exc), final=not exc.retryable)
        finally:
            self.toolbox.close()  # the run's MCP servers end with it

    def _run_tools(self, messages: list[Message], reply: Message) -> None:
        for call in reply.tool_calls:
            if self.attempt.stop.is_set():
                raise LeaseLost()
            result = self.toolbox.call(call)
            self.spend.tool_calls += 1
            self.transcript.tool(call, result)
            messages.append(Message("tool", result, call_id=call.id, name=call.name))

    def _maybe_learn(self, messages: list[Message]) -> None:
        """One extra turn offering skill_create, after a run that took many tool calls."""
        if not (self.profile.learn and "skills" in self.profile.tools):
            return
        if self.spend.tool_calls < LEARN_AFTER_TOOL_CALLS:
            return
        self.transcript.note("learning turn: is there a skill worth saving?")
        messages.append(Message("user", LEARN_PROMPT))
        tools = self.toolbox.specs(only=("skill_view", "skill_create"))
        reply = self.client.complete(messages, tools, self.transcript.text)
        self.spend.add(reply)
        self.transcript.reply(reply)
        messages.append(reply.message)
        for call in reply.message.tool_calls[:1]:
            result = self.toolbox.call(call)
            self.transcript.tool(call, result)

    def _outcome(self, ok: bool, result: str, error: str | None, *, final: bool = False) -> Outcome:
        return Outcome(ok, result, error, usage=usage(self.spend), final=final)


def usage(spend: Spend) -> Usage:
    """What a run spent, as the board records it."""
    return Usage(spend.tokens_in, spend.tokens_out, spend.cost_usd)
