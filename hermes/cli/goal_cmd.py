"""`hermes goal OBJECTIVE` and `hermes goal status ID`: objectives that plan themselves.

`goal` is a group whose first word is either a subcommand (`status`) or the start of an
objective: `hermes goal "Ship CSV export"` runs the hidden `new` command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from hermes.cli.common import open_board, print_json
from hermes.cli.options import CardId, JsonFlag


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
    from hermes.intake import add_card, goal_request

    request = goal_request(
        " ".join(objective), profile=profile, budget=budget, repo=repo, no_repo=no_repo
    )
    with open_board() as store:
        goal_id, _ = add_card(store, request, store.now())
        if as_json:
            from hermes.reports import goal_report

            print_json(goal_report(store, goal_id))
            return
    print(goal_id)


@goal_app.command("status")
def status(goal: CardId, as_json: JsonFlag = False) -> None:
    """The goal, its cards and their status, the verdicts so far and the budget left."""
    from hermes.reports import goal_report

    with open_board() as store:
        report = goal_report(store, goal)
    if as_json:
        print_json(report)
        return
    from hermes.cli.text import show
    from hermes.cli.views import goal_tree

    show(goal_tree(report))
