"""`hermes dispatcher ...`: run the board, and see what is running."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from board.cards import MAX_CONCURRENCY
from board.clock import utcnow
from hermes.cli.common import open_board, print_json, within
from hermes.cli.options import JsonFlag
from hermes.errors import InvalidInput
from hermes.paths import board_url

dispatcher_app = typer.Typer(
    help="Run cards: claim ready ones and work them in parallel.", no_args_is_help=True
)


DAY = 86400.0


def _report(text: str) -> None:
    print(f"{datetime.now():%H:%M:%S} {text}", flush=True)


@dispatcher_app.command("start")
def start(
    concurrency: Annotated[
        int, typer.Option(metavar="N", help="Workers at once (each profile also has a limit).")
    ] = 4,
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Exit once nothing can run any more.")
    ] = False,
    tick: Annotated[
        float, typer.Option(metavar="SECONDS", help="Fallback wake-up interval.")
    ] = 5.0,
    heartbeat: Annotated[
        float, typer.Option(metavar="SECONDS", help="How often workers renew their lease.")
    ] = 10.0,
    lease: Annotated[
        float,
        typer.Option(metavar="SECONDS", help="Reclaim a run after this long without a heartbeat."),
    ] = 60.0,
    grace: Annotated[
        float,
        typer.Option(metavar="SECONDS", help="On stop, how long running workers may finish."),
    ] = 10.0,
    backoff: Annotated[
        float, typer.Option(metavar="SECONDS", help="Wait before the first retry (doubles).")
    ] = 10.0,
    backoff_max: Annotated[
        float, typer.Option(metavar="SECONDS", help="Longest wait between retries.")
    ] = 300.0,
) -> None:
    """Run the board in the foreground until Ctrl-C (or idle with --until-idle)."""
    within("--concurrency", concurrency, 1, MAX_CONCURRENCY)
    for name, value in (
        ("--tick", tick),
        ("--heartbeat", heartbeat),
        ("--lease", lease),
        ("--backoff", backoff),
        ("--backoff-max", backoff_max),
    ):
        within(name, value, 0.01, DAY, " seconds")
    within("--grace", grace, 0, DAY, " seconds")
    if lease <= heartbeat:
        raise InvalidInput(
            f"--lease {lease:g} must be longer than --heartbeat {heartbeat:g}, "
            "or every run would be reclaimed between two heartbeats"
        )
    from board import Backoff
    from dispatcher import Settings, run_dispatcher

    settings = Settings(
        concurrency=concurrency,
        tick=tick,
        heartbeat=heartbeat,
        lease=lease,
        grace=grace,
        until_idle=until_idle,
        backoff=Backoff(backoff, max(backoff, backoff_max)),
    )
    open_board().close()  # create or migrate the board before any worker opens it
    raise typer.Exit(run_dispatcher(board_url(), settings, _report))


@dispatcher_app.command("status")
def status(as_json: JsonFlag = False) -> None:
    """Dispatchers on this board, live workers and their leases, the last tick."""
    now = utcnow()
    with open_board() as store:
        dispatchers = store.dispatchers(now)
        live = store.live_runs()
    if as_json:
        runs = [
            {
                **entry.run.to_json(),
                "card_id": entry.run.card_id,
                "title": entry.title,
                "profile": entry.profile,
                "status": entry.status,
            }
            for entry in live
        ]
        print_json({"dispatchers": [d.to_json() for d in dispatchers], "runs": runs})
        return
    from hermes.cli.console import console
    from hermes.cli.render import status_view

    console().print(status_view(dispatchers, live, now))
