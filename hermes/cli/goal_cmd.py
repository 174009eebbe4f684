"""`hermes goal OBJECTIVE` and `hermes goal status ID`: objectives that plan themselves.

`goal` is a group whose first word is either a subcommand (`status`) or the start of an
objective: `hermes goal "Ship CSV export"` runs the hidden `new` command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from board.clock import utcnow
from hermes.cli.common import open_board, print_json, within
from hermes.cli.options import CardId, JsonFlag
from hermes.errors import InvalidInput

#: Planner turns a goal may spend at most; a typo beyond it should not run for weeks.
MAX_BUDGET = 1000


class ObjectiveGroup(TyperGroup):
    """A group that reads `hermes goal <objective...>` as `hermes goal new <objective...>`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["new", *args]
        return super().parse_args(ctx, args)


goal_app = typer.Typer(
    cls=ObjectiveGroup,
    help=(
        "Objectives that plan themselves into cards and are judged when they are done.\n\n"
        "hermes goal OBJECTIVE [--repo PATH | --no-repo] [--profile planner] "
        "[--budget TURNS] [--json]"
    ),
    no_args_is_help=True,
)


@goal_app.command("new", hidden=True)
def new(
    objective: Annotated[list[str], typer.Argument(metavar="OBJECTIVE", help="What to achieve.")],
    repo: Annotated[
        Path | None, typer.Option(metavar="PATH", help="Repository (default: the current one).")
    ] = None,
    no_repo: Annotated[bool, typer.Option("--no-repo", help="Work without a repository.")] = False,
    profile: Annotated[
        str, typer.Option(metavar="NAME", help="The planner's profile.")
    ] = "planner",
    budget: Annotated[
        int, typer.Option(metavar="TURNS", help="Planner turns before the goal fails.")
    ] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Create a goal: a planner breaks it into cards; a judge decides when it is met."""
    from hermes.intake import CardRequest, add_card

    text = " ".join(objective).strip()
    if not text:
        raise InvalidInput("the objective is empty; say what should be achieved")
    within("--budget", budget, 1, MAX_BUDGET, " planner turns")
    title = text.splitlines()[0][:100]
    request = CardRequest(
        title=title,
        body=text,
        profile=profile,
        repo=repo,
        no_repo=no_repo,
        labels=["goal"],
        budget=budget,
    )
    with open_board() as store:
        goal_id, _ = add_card(store, request, utcnow())
        if as_json:
            print_json(goal_report(store, goal_id))
            return
    print(goal_id)


@goal_app.command("status")
def status(goal: CardId, as_json: JsonFlag = False) -> None:
    """The goal, its cards and their status, the verdicts so far and the budget left."""
    with open_board() as store:
        report = goal_report(store, goal)
    if as_json:
        print_json(report)
        return
    from hermes.cli.text import show
    from hermes.cli.views import goal_tree

    show(goal_tree(report))


def goal_report(store: Any, goal_id: int) -> dict[str, Any]:
    """Everything `goal status` shows, as the JSON document it prints."""
    detail = store.detail(goal_id)  # an unknown id is reported as such
    budget = store.goal_budget(goal_id)
    if budget is None:
        raise InvalidInput(f"card {goal_id} is not a goal; see `hermes board show {goal_id}`")
    turns = [e for e in detail.events if e.kind == "planned"]
    verdicts = [e for e in detail.events if e.kind == "verdict"]
    return {
        "goal": detail.card.to_json(),
        "budget": budget,
        "turns": len(turns),
        "turns_left": max(0, budget - len(turns)),
        "children": [child.to_json() for child in store.children(goal_id)],
        "plans": [{"at": e.at, **e.data} for e in turns],
        "verdicts": [{"at": e.at, **e.data} for e in verdicts],
    }
