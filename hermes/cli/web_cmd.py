"""`hermes web`: the web board, the JSON API and MCP over HTTP, in the foreground."""

from __future__ import annotations

from typing import Annotated

import typer


def web(
    host: Annotated[
        str | None, typer.Option(metavar="HOST", help="Address to listen on (default: http.host).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(metavar="PORT", help="Port (default: http.port, 8420).")
    ] = None,
) -> None:
    """Serve the live web board, the JSON API and MCP at http://HOST:PORT until Ctrl-C."""
    import asyncio

    from gateway.http.server import bind, check_bind, keepalive_setting, serve, server_token, where
    from hermes.app import supervise
    from hermes.cli.common import within
    from hermes.config import load_config
    from hermes.errors import InvalidInput

    config = load_config()
    http = config.settings.http
    if port is not None:
        within("--port", port, 1, 65535)
    if host is not None and not host.strip():
        raise InvalidInput("--host is empty; give an address such as 127.0.0.1")
    host, port = host or http.host, port or http.port
    token = server_token(http)
    check_bind(host, token, http.token_env)
    keepalive_setting()  # a bad value is refused before anything listens
    sock = bind(host, port)
    guarded = f" (token required: {http.token_env})" if token else ""
    print(f"hermes web: serving http://{where(host, port)}/{guarded}; Ctrl-C stops", flush=True)
    services = {"http": lambda: serve(config.db_url, http, host, port, sock=sock)}
    raise typer.Exit(asyncio.run(supervise(services, _report)))


def _report(text: str) -> None:
    print(f"hermes web: {text}", flush=True)
