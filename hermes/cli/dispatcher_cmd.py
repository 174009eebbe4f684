"""`hermes dispatcher ...`: run the board, see what is running, stop it from elsewhere."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from board.cards import MAX_CONCURRENCY
from hermes.cli.common import open_board, print_json, within
from hermes.cli.options import JsonFlag
from hermes.cli.printable import one_line
from hermes.errors import InvalidInput, NotFound
from hermes.paths import board_url

if TYPE_CHECKING:
    from board import Store
    from board.dispatch_ops import Registered
    from dispatcher import Settings

dispatcher_app = typer.Typer(
    help="Run cards: claim ready ones and work them in parallel.", no_args_is_help=True
)


DAY = 86400.0
STOP_POLL = 0.1


def _report(text: str) -> None:
    """One dispatcher line, stamped; board text in it (titles, commands) made safe."""
    print(f"{datetime.now():%H:%M:%S} {one_line(text)}", flush=True)


def _runner(everything: bool) -> Callable[..., None]:
    """`dispatcher start`, or with `everything` `hermes up`: the same options."""

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
            typer.Option(
                metavar="SECONDS", help="Reclaim a run after this long without a heartbeat."
            ),
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
        if not everything:
            raise typer.Exit(run_dispatcher(board_url(), settings, _report))
        raise typer.Exit(_run_everything(settings))

    return start


start = dispatcher_app.command(
    "start", help="Run the board in the foreground until Ctrl-C (or idle with --until-idle)."
)(_runner(everything=False))
up = _runner(everything=True)


def _run_everything(settings: Settings) -> int:
    """`hermes up`: the dispatcher, the HTTP server and every chat platform set up."""
    import asyncio

    from dispatcher import Dispatcher
    from gateway.http.server import check_bind, serve, server_token
    from hermes.app import run_beside
    from hermes.cli.gateway_cmd import gateway_services
    from hermes.config import load_config

    config = load_config()
    http = config.settings.http
    check_bind(http.host, server_token(http), http.token_env)
    services = {"http": lambda: serve(config.db_url, http), **gateway_services(None, config)}
    chats = [name.split(":", 1)[1] for name in services if name.startswith("gateway:")]
    _report(
        f"hermes up: the dispatcher, the web board at http://{http.host}:{http.port}/"
        + (f", chat on {', '.join(chats)}" if chats else " (no chat platform set up)")
    )
    dispatcher = Dispatcher(config.db_url, settings, _report)
    return asyncio.run(run_beside(dispatcher, services, _report))


@dispatcher_app.command("stop")
def stop(
    dispatcher: Annotated[
        str | None,
        typer.Argument(metavar="[ID]", help="The dispatcher to stop (its id, or the start of it)."),
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Stop every dispatcher running on this board.")
    ] = False,
    wait: Annotated[
        bool,
        typer.Option("--wait/--no-wait", help="Wait until it has stopped (the default)."),
    ] = True,
    as_json: JsonFlag = False,
) -> None:
    """Stop a dispatcher running on this board (in another terminal or on another host)
    as Ctrl-C would: no new claims, running cards finish within its grace, the rest go
    back to ready."""
    from dispatcher.registry import live

    if dispatcher is not None and every:
        raise InvalidInput("give a dispatcher id or --all, not both")
    with open_board() as store:
        now = store.now()  # the board's clock, so hosts with skewed clocks judge alike
        running = live(store.registry(now), now)
        chosen = _choose(running, dispatcher, every)
        for entry in chosen:
            if store.request_stop(entry.info.id, now) and not as_json:
                print(f"asked dispatcher {entry.info.id} to stop", flush=True)
        ids = [entry.info.id for entry in chosen]
        if wait and ids and not as_json:
            print("waiting for it to finish (Ctrl-C stops waiting, not the stop)", flush=True)
        states = _wait_for(store, ids) if wait else {i: "stopping" for i in ids}
    if as_json:
        print_json({"dispatchers": [{"id": i, "state": s} for i, s in states.items()]})
        return
    if not chosen:
        print("no dispatcher is running on this board")
    for dispatcher_id, state in states.items():
        if wait:
            print(f"dispatcher {dispatcher_id} {state}")


def _choose(running: list[Registered], wanted: str | None, every: bool) -> list[Registered]:
    """The dispatchers a `stop` means; an ambiguous or unknown id is exit 2."""
    if every or (wanted is None and len(running) <= 1):
        return running
    names = ", ".join(e.info.id for e in running) or "none is running"
    if wanted is None:
        raise InvalidInput(
            f"{len(running)} dispatchers run on this board ({names}); name one "
            "(hermes dispatcher stop ID) or stop them all with --all"
        )
    exact = [e for e in running if e.info.id == wanted]
    found = exact or [e for e in running if e.info.id.startswith(wanted)]
    if len(found) == 1:
        return found
    if not found:
        raise NotFound(f"no running dispatcher {wanted!r} on this board ({names})")
    raise InvalidInput(f"{wanted!r} matches several dispatchers ({names}); give more of the id")


def _wait_for(store: Store, ids: list[str]) -> dict[str, str]:
    """Wait until every dispatcher in `ids` has stopped or is gone; their states."""
    from dispatcher.registry import judge

    states: dict[str, str] = dict.fromkeys(ids, "stopping")
    while True:
        now = store.now()
        for entry in store.registry(now):
            if entry.info.id in states:
                states[entry.info.id] = judge(entry, now)
        if all(state in ("stopped", "gone") for state in states.values()):
            return states
        time.sleep(STOP_POLL)


@dispatcher_app.command("status")
def status(as_json: JsonFlag = False) -> None:
    """Dispatchers on this board (running, stopping, gone or stopped), live workers and
    their leases, the last tick."""
    from dispatcher.registry import judge

    with open_board() as store:
        now = store.now()  # the board's clock, so hosts with skewed clocks judge alike
        if as_json:
            from hermes.reports import dispatchers

            print_json(dispatchers(store, now))
            return
        registry = store.registry(now)
        live = store.live_runs()
    states = [judge(entry, now) for entry in registry]
    from hermes.cli.text import show
    from hermes.cli.views import status_view

    show(status_view([e.info for e in registry], states, live, now))
