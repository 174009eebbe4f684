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

    from gateway.http.server import check_bind, serve, server_token
    from hermes.app import supervise
    from hermes.cli.common import within
    from hermes.config import load_config

    config = load_config()
    http = config.settings.http
    if port is not None:
        within("--port", port, 1, 65535)
    where_host = host or http.host
    check_bind(where_host, server_token(http), http.token_env)
    print(f"hermes web: http://{where_host}:{port or http.port}/", flush=True)
    services = {"http": lambda: serve(config.db_url, http, host, port)}
    raise typer.Exit(asyncio.run(supervise(services, _report)))


def _report(text: str) -> None:
    print(f"hermes web: {text}", flush=True)
