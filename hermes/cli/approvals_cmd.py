"""`hermes approvals check`: what an agent's shell command would meet, before it runs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from hermes.cli.common import print_json
from hermes.cli.options import JsonFlag
from hermes.errors import InvalidInput
from hermes.paths import worktrees_dir

approvals_app = typer.Typer(
    help="See how the approval gate judges a shell command.", no_args_is_help=True
)

ACTIONS = {
    "run": "runs without asking",
    "ask": "waits for a human (hermes board approve|reject)",
    "refuse": "refused; the agent is told why",
}


@approvals_app.command("check")
def check(
    command: Annotated[str, typer.Argument(help="The shell command, as an agent would send it.")],
    profile: Annotated[
        str, typer.Option(metavar="NAME", help="Judge under this profile's rules.")
    ] = "default",
    workspace: Annotated[
        Path | None,
        typer.Option(metavar="PATH", help="The workspace it runs in (default: a card worktree)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Print the risk level, the reason and what happens: run, ask or refuse."""
    from hermes.config import load_config
    from workers.agent.approvals import judge

    if not command.strip():
        raise InvalidInput("the command is empty; give the shell command to check")
    if "\0" in command:
        raise InvalidInput("the command contains a NUL character, which no shell accepts")
    found = load_config().load_profile(profile)
    place = (workspace or worktrees_dir() / "example" / "card-1").expanduser().absolute()
    env = {**os.environ, "PWD": str(place), "HERMES_WORKSPACE": str(place)}
    verdict = judge(command, found, place, env)
    if as_json:
        print_json(verdict.to_json())
        return
    level = verdict.level or "not risky"
    print(f"{level}: {verdict.reason}")
    print(f"{verdict.action}: {ACTIONS[verdict.action]} (profile {found.name})")
