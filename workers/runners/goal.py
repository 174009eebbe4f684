"""Goals: an objective that plans itself into cards and is judged when they are done.

Each time a goal card is claimed it takes one step:

- after a planner turn whose children are all finished (done, failed or cancelled), a
  judge call offering exactly one tool, `goal_verdict {done, reason}`, decides with the
  objective and the children's results. Met: the goal is done, the reason its result.
- otherwise (the first claim, or a verdict of "not met" with budget left) the planner
  takes a turn: an agent loop that sees the objective, the profiles it may assign, and
  on later turns the verdict and what each child produced; it adds cards with
  `board_add` and ends its turn. The worker then parks the goal in `waiting` (no
  worker, no lease) until its children are finished.

The budget counts planner turns; when it is spent and the judge still says no, the goal
fails with the judge's last reason. Every turn and verdict is an event on the goal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from board import Card
from board.clock import utcnow
from workers.agent.loop import AgentLoop, usage
from workers.agent.messages import Message, Spend, ToolSpec
from workers.agent.model import ModelClient, ModelError
from workers.agent.prompt import skill_index, system_prompt
from workers.agent.toolbox import Toolbox
from workers.agent.transcript import Transcript
from workers.runners.base import Outcome, RunContext

RESULT_CAP = 1500
VERDICT = ToolSpec(
    "goal_verdict",
    "Record whether the objective has been met.",
    {
        "type": "object",
        "properties": {"done": {"type": "boolean"}, "reason": {"type": "string"}},
        "required": ["done", "reason"],
    },
)
JUDGE = (
    "You judge whether an objective has been met, from the results of the cards that "
    "worked on it. Be strict: met means the objective as written is achieved, not that "
    "work was done. Call goal_verdict once: done true or false, and a reason that says "
    "what is missing when it is not met."
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judge's decision."""

    done: bool
    reason: str


class GoalRunner:
    """One step of a goal: judge, or plan, or both, within `budget` planner turns."""

    def __init__(self, budget: int) -> None:
        self.budget = budget

    def run(self, ctx: RunContext) -> Outcome:
        """Judge the finished children (if a turn came before), then plan or finish."""
        # Read again: the card the worker was handed predates its workspace (branch).
        store, goal, budget = ctx.store, ctx.store.card(ctx.card.id), self.budget
        turns = store.goal_turns(goal.id)
        transcript = Transcript(ctx.log_path, ctx.masker)
        spend = Spend()
        try:
            client = ModelClient(ctx.profile)
            feedback = None
            if turns:
                verdict = self._judge(client, goal, store.children(goal.id), transcript, spend)
                said = "met" if verdict.done else "not met"
                transcript.note(f"verdict after planner turn {turns}: {said}: {verdict.reason}")
                data = {"turn": turns, "done": verdict.done, "reason": verdict.reason}
                store.note(goal.id, "verdict", utcnow(), f"run:{ctx.run_id}", data)
                if verdict.done:
                    return Outcome(True, verdict.reason, usage=usage(spend))
                if turns >= budget:
                    error = f"goal not met after {budget} planner turns: {verdict.reason}"
                    return Outcome(False, "", error, usage=usage(spend), final=True)
                feedback = verdict.reason
            return self._plan(ctx, goal, client, turns + 1, budget, feedback, transcript, spend)
        except ModelError as exc:
            return Outcome(False, "", str(exc), usage=usage(spend), final=not exc.retryable)

    def _judge(
        self,
        client: ModelClient,
        goal: Card,
        children: list[Card],
        transcript: Transcript,
        spend: Spend,
    ) -> Verdict:
        transcript.note("judge: is the objective met?")
        question = [Message("system", JUDGE), Message("user", objective(goal, children))]
        reply = client.complete(question, [VERDICT], transcript.text, force_tool=VERDICT.name)
        spend.add(reply)
        transcript.reply(reply)
        for call in reply.message.tool_calls:
            if call.name == VERDICT.name:
                try:
                    args = json.loads(call.arguments or "{}")
                except json.JSONDecodeError:
                    args = {}
                return Verdict(bool(args.get("done")), str(args.get("reason") or "no reason given"))
        return Verdict(False, f"the judge gave no verdict: {(reply.message.text or '').strip()}")

    def _plan(
        self,
        ctx: RunContext,
        goal: Card,
        client: ModelClient,
        turn: int,
        budget: int,
        feedback: str | None,
        transcript: Transcript,
        spend: Spend,
    ) -> Outcome:

        store = ctx.store
        children = store.children(goal.id)
        before = {child.id for child in children}
        transcript.note(f"planner turn {turn} of {budget}")
        system = system_prompt(ctx.profile, goal, skill_index(ctx.profile))
        system += "\n\n" + profiles_note()
        ask = planner_message(goal, children, turn, budget, feedback)
        loop = AgentLoop(ctx.profile, client, Toolbox(ctx), transcript, ctx.attempt)
        outcome = loop.run([Message("system", system), Message("user", ask)])
        spend.absorb(loop.spend)
        if not outcome.ok:
            return Outcome(
                False, outcome.result, outcome.error, usage=usage(spend), final=outcome.final
            )
        added = [c.id for c in store.children(goal.id) if c.id not in before]
        plan = {"turn": turn, "added": added, "summary": outcome.result[:RESULT_CAP]}
        return Outcome(True, outcome.result, usage=usage(spend), plan=plan)


def objective(goal: Card, children: list[Card]) -> str:
    """The objective and what each child card produced."""
    lines = [
        f"# Objective (goal {goal.id})",
        "",
        goal.body.strip() or goal.title,
        "",
        "## Cards worked for it",
    ]
    for child in children:
        result = (child.result or "(no result)").strip()[:RESULT_CAP]
        lines += [f"### Card {child.id}: {child.title} ({child.status})", result]
    if not children:
        lines.append("(none)")
    return "\n".join(lines)


def planner_message(
    goal: Card, children: list[Card], turn: int, budget: int, feedback: str | None
) -> str:
    """What the planner is asked on turn `turn`."""
    lines = [
        objective(goal, children)
        if children
        else f"# Objective (goal {goal.id})\n\n" + (goal.body.strip() or goal.title),
        "",
        f"This is planner turn {turn} of {budget}.",
    ]
    if feedback:
        lines += ["", f"The judge says the objective is not met yet: {feedback}"]
    lines += [
        "",
        "Add the cards still needed with board_add (they run in parallel unless "
        "depends_on says otherwise; use the card ids board_add returns). Do not do the "
        "work yourself. Then answer with a short summary of the plan.",
    ]
    return "\n".join(lines)


def profiles_note() -> str:
    """The profiles a planner may assign cards to, with what each is for."""
    from hermes.config import load_config

    rows = [f"- {p.name} ({p.runner}): {p.description}" for p, _ in load_config().list_profiles()]
    return "Profiles you can give a card (board_add profile):\n" + "\n".join(rows)
