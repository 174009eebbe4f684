"""`hermes gateway start|status|allow`: chat platforms where messages become cards."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Any

import typer

from hermes.cli.common import print_json
from hermes.cli.options import JsonFlag
from hermes.config import CHAT_PLATFORMS as PLATFORMS
from hermes.config import Config
from hermes.errors import InvalidInput

gateway_app = typer.Typer(
    help="Chat platforms (Telegram, Discord, Slack) where messages become cards.",
    no_args_is_help=True,
)


def _report(text: str) -> None:
    print(f"{datetime.now():%H:%M:%S} {text}", flush=True)


def gateway_services(names: list[str] | None, config: Config) -> dict[str, Any]:
    """The supervised services of the chosen (default: every configured) platform,
    checked before anything starts: settings, client library, token."""
    from gateway.chat.adapters import make_platform
    from gateway.chat.service import serve

    configured = config.chat_platforms()
    chosen = list(dict.fromkeys(names or configured))
    for name in chosen:
        if name not in PLATFORMS:
            raise InvalidInput(f"unknown platform {name!r}; use one of: {', '.join(PLATFORMS)}")
        if name not in configured:
            raise InvalidInput(
                f"{name} is not set up: add a gateway.{name} section to config.yaml "
                "(see docs/gateway.md)"
            )
    services = {}
    for name in chosen:
        platform = make_platform(name, configured[name])
        services[f"gateway:{name}"] = partial(
            serve, platform, configured[name], config.db_url, _report
        )
    return services


@gateway_app.command("start")
def start(
    platform: Annotated[
        list[str] | None,
        typer.Option(metavar="NAME", help="Only this platform (repeatable; default: all set up)."),
    ] = None,
) -> None:
    """Connect to the chat platforms set up in config.yaml, in the foreground."""
    import asyncio

    from hermes.app import supervise
    from hermes.config import load_config

    config = load_config()
    services = gateway_services(platform, config)
    if not services:
        raise InvalidInput(
            "no chat platform is set up: add a gateway section to config.yaml (see docs/gateway.md)"
        )
    _report("gateway started: " + ", ".join(name.split(":", 1)[1] for name in services))
    raise typer.Exit(asyncio.run(supervise(services, _report)))


@gateway_app.command("status")
def status(as_json: JsonFlag = False) -> None:
    """Each platform: running, connected, its last message, what could not be sent."""
    from board.clock import age, utcnow
    from hermes.cli.common import open_board
    from hermes.config import load_config
    from hermes.reports import platforms

    configured = load_config().chat_platforms()
    with open_board() as store:
        rows = platforms(store, configured, utcnow())
    if as_json:
        print_json(rows)
        return
    if not rows:
        print("no chat platform is set up (see docs/gateway.md)")
        return
    now = utcnow()
    for row in rows:
        said = "connected" if row["connected"] else "running" if row["running"] else "not running"
        last = row["last_message_at"]
        heard = f"last message {age(last, now)} ago" if last else "no message yet"
        waiting = f"{row['undelivered']} chats with undelivered messages"
        failing = f", {row['failing']} failing" if row["failing"] else ""
        print(f"{row['platform']:<9} {said:<12} {heard}; {waiting}{failing}")


@gateway_app.command("allow")
def allow(
    platform: Annotated[
        str, typer.Argument(metavar="PLATFORM", help="telegram, discord or slack.")
    ],
    user: Annotated[str, typer.Argument(metavar="USER", help="The user's id on that platform.")],
) -> None:
    """Let a user create cards and press buttons (adds them to config.yaml)."""
    from hermes.config import load_config, update_settings

    if platform not in PLATFORMS:
        raise InvalidInput(f"unknown platform {platform!r}; use one of: {', '.join(PLATFORMS)}")
    if not user.strip() or any(c.isspace() for c in user):
        raise InvalidInput(f"{user!r} is not a user id; the bot tells people their id")
    path = load_config().path

    def add(settings: dict[str, Any]) -> bool:
        gateway = settings.setdefault("gateway", {}) or {}
        settings["gateway"] = gateway
        section = gateway.setdefault(platform, {}) or {}
        gateway[platform] = section
        allowed = section.setdefault("allow", []) or []
        section["allow"] = allowed
        value: int | str = int(user) if user.isdigit() else user
        if str(value) in {str(existing) for existing in allowed}:
            return False
        allowed.append(value)
        return True

    if update_settings(path, add):
        print(f"{platform} user {user} may now create cards and press buttons ({path})")
        print("a running gateway reads this when it starts again")
    else:
        print(f"{platform} user {user} was already allowed")
