"""Serving the HTTP application: where it listens, with which token, until stopped.

`serve` is a service in the sense of `hermes.app`: a coroutine that runs until
cancelled, so `hermes web` runs it alone and `hermes up` beside the dispatcher and the
chat platforms. It refuses to listen beyond this machine without a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from typing import Any

from hermes.config import is_loopback
from hermes.errors import InvalidInput

#: Seconds open event streams get to end when the server stops.
SHUTDOWN_GRACE = 1


def server_token(http: Any) -> str | None:
    """The bearer token the settings name (None while its variable is empty)."""
    name = http.token_env
    return (os.environ.get(name) or None) if name else None


def check_bind(host: str, token: str | None, token_env: str | None) -> None:
    """Refuse to listen beyond loopback without a token."""
    if token is None and not is_loopback(host):
        variable = token_env or "HERMES_TOKEN"
        raise InvalidInput(
            f"host {host!r} is reachable from other machines, and {variable} holds no token: "
            f"set {variable} (http.token_env) to a long random secret, or serve on 127.0.0.1"
        )


async def serve(db_url: str, http: Any, host: str | None = None, port: int | None = None) -> None:
    """Serve the board over HTTP until cancelled."""
    import uvicorn

    from gateway.http.app import create_app

    host = host or http.host
    port = port or http.port
    token = server_token(http)
    check_bind(host, token, http.token_env)
    _Server = _server_class()
    config = uvicorn.Config(
        create_app(db_url, token=token),
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
    )
    server = _Server(config)
    running = asyncio.create_task(server.serve(), name="uvicorn")
    try:
        await asyncio.shield(running)
    except asyncio.CancelledError:
        server.should_exit = True  # close connections, end streams, run the lifespan's end
        await running
        raise


def _server_class() -> type[Any]:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server without its own signal handlers: whoever runs the service
        (`hermes web`, `hermes up`) owns Ctrl-C and SIGTERM and stops it by cancelling."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Server
