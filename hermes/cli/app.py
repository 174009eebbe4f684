"""The root `hermes` app: wires each package's command group under one name."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from hermes import __version__
from hermes.cli import (  # noqa: F401  (they add board log|merge|gc|approve|edit|...)
    card_cmd,
    human_cmd,
    work_cmd,
)
from hermes.cli.approvals_cmd import approvals_app
from hermes.cli.board_cmd import board_app
from hermes.cli.common import print_json
from hermes.cli.cron_cmd import cron_app
from hermes.cli.dispatcher_cmd import dispatcher_app, up
from hermes.cli.gateway_cmd import gateway_app
from hermes.cli.goal_cmd import goal_app
from hermes.cli.mcp_cmd import mcp_app
from hermes.cli.options import JsonFlag
from hermes.cli.profiles_cmd import profiles_app
from hermes.cli.skills_cmd import skills_app
from hermes.cli.web_cmd import web

app = typer.Typer(
    name="hermes",
    help="A durable kanban board worked by parallel AI and shell agents in git worktrees.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(board_app, name="board")
app.add_typer(profiles_app, name="profiles")
app.add_typer(dispatcher_app, name="dispatcher")
app.add_typer(skills_app, name="skills")
app.add_typer(cron_app, name="cron")
app.add_typer(goal_app, name="goal")
app.add_typer(approvals_app, name="approvals")
app.add_typer(gateway_app, name="gateway")
app.add_typer(mcp_app, name="mcp")
app.command("web")(web)


app.command(
    "up",
    help="Run everything in one process until Ctrl-C: the dispatcher and its cron "
    "schedules, the web board, API and MCP server (http settings), and every chat "
    "platform set up in config.yaml.",
)(up)


@app.command("demo")
def demo() -> None:
    """Run a small graph of shell cards live in a fresh git repository (offline)."""
    from hermes.cli.console import console
    from hermes.demo import run_demo

    raise typer.Exit(run_demo(console()))


@app.command("init")
def init(
    model: Annotated[
        str | None, typer.Option(metavar="MODEL", help="The model agents use (litellm name).")
    ] = None,
    api_base: Annotated[
        str | None, typer.Option(metavar="URL", help="A server of your own (OpenAI-compatible...).")
    ] = None,
    api_key_env: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="The variable that holds the key (never the key)."),
    ] = None,
    no_check: Annotated[
        bool, typer.Option("--no-check", help="Do not try the key with a tiny request.")
    ] = False,
) -> None:
    """Choose the model agents use and check its key with one tiny request; saved in
    $HERMES_HOME/config.yaml as the default of every agent profile."""
    import sys

    from hermes.config import load_config
    from hermes.errors import InvalidInput
    from hermes.first_run import Choice, ask, check, key_variable, save

    if model is None and sys.stdin.isatty():
        choice = ask(lambda text, default: typer.prompt(text, default=default, show_default=True))
    else:
        chosen = model or "openai/gpt-4o-mini"
        choice = Choice(chosen, api_key_env or key_variable(chosen), api_base)
    key = f"key in {choice.api_key_env}" if choice.api_key_env else "no key"
    print(
        f"model {choice.model}, {key}" + (f", server {choice.api_base}" if choice.api_base else "")
    )
    if not no_check:
        if choice.api_key_env and not os.environ.get(choice.api_key_env):
            raise InvalidInput(
                f"{choice.api_key_env} is not set: export {choice.api_key_env}=... first "
                "(or give --no-check to save the choice without trying it)"
            )
        print("checking it with one tiny request ...", flush=True)
        said = check(choice)
        print(f"ok: the model answered {said!r}")
    path = load_config().path
    save(path, choice)
    print(f"saved in {path}: agent profiles without a model of their own use it")
    print('next: hermes board add "What needs doing"  and  hermes dispatcher start')


@app.command("doctor")
def doctor(as_json: JsonFlag = False) -> None:
    """Say what works on this machine: git, the board, the sandbox, each profile's model
    key (by name, never its value); exit 1 if something hermes needs is broken."""
    from hermes.doctor import run_checks

    checks = run_checks()
    failed = any(check.status == "fail" for check in checks)
    if as_json:
        print_json({"ok": not failed, "checks": [check.to_json() for check in checks]})
    else:
        width = max(len(check.name) for check in checks)
        for check in checks:
            print(f"{check.status:<4}  {check.name:<{width}}  {check.detail}")
    raise typer.Exit(1 if failed else 0)


def _version(value: bool) -> None:
    if value:
        print(f"hermes {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """A durable kanban board worked by parallel AI and shell agents in git worktrees.

    State lives in $HERMES_HOME (default ~/.hermes). Start with `hermes board add`.
    """
