"""Serving the HTTP application: where it listens, with which token, until stopped.

`serve` is a service in the sense of `hermes.app`: a coroutine that runs until
cancelled, so `hermes web` runs it alone and `hermes up` beside the dispatcher and the
chat platforms. It refuses to listen beyond this machine without a token. Stopping ends
the open event streams at once, so a server with browsers attached still stops within a
second or so instead of waiting for them to hang up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Iterator
from typing import Any

from hermes.config import is_loopback
from hermes.errors import InvalidInput

#: Seconds connections get to finish their answers when the server stops.
SHUTDOWN_GRACE = 1
#: Overrides `gateway.http.events.KEEPALIVE` (seconds), e.g. for a proxy that drops
#: connections quiet for less than 15 s, or for tests.
KEEPALIVE_ENV = "HERMES_HTTP_KEEPALIVE"


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


def keepalive_setting() -> float | None:
    """The keep-alive interval `HERMES_HTTP_KEEPALIVE` asks for (None: the default)."""
    text = os.environ.get(KEEPALIVE_ENV)
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not 0.01 <= seconds <= 3600:  # also refuses NaN
        raise InvalidInput(f"{KEEPALIVE_ENV} {text!r} must be a number of seconds, 0.01 to 3600")
    return seconds


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on `host`:`port`, or an error saying why there cannot be one."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InvalidInput(f"host {host!r} is not an address of this machine ({reason})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise InvalidInput(
            f"cannot listen on {where(host, port)}: {exc.strerror or exc}; "
            "stop what is listening there, or choose another port or host"
        ) from None
    sock.setblocking(False)
    return sock


def where(host: str, port: int) -> str:
    """`host:port` as a URL writes it (IPv6 addresses in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def serve(
    db_url: str,
    http: Any,
    host: str | None = None,
    port: int | None = None,
    *,
    sock: socket.socket | None = None,
    keepalive: float | None = None,
) -> None:
    """Serve the board over HTTP until cancelled (on `sock` when given, already bound;
    keep-alives every `keepalive` seconds, default `HERMES_HTTP_KEEPALIVE` or 15)."""
    import uvicorn

    from gateway.http.app import create_app

    host = host or http.host
    port = port or http.port
    token = server_token(http)
    check_bind(host, token, http.token_env)
    keepalive = keepalive or keepalive_setting()
    listening = sock or bind(host, port)
    app = create_app(db_url, token=token, **({"keepalive": keepalive} if keepalive else {}))
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
    )
    server = _server_class()(config)
    running = asyncio.create_task(server.serve(sockets=[listening]), name="uvicorn")
    try:
        await asyncio.shield(running)
    except asyncio.CancelledError:
        app.state.events.close()  # end the open streams now: nothing else would end them
        server.should_exit = True  # close connections, then run the lifespan's end
        await running
        raise
    finally:
        listening.close()


def _server_class() -> type[Any]:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server without its own signal handlers: whoever runs the service
        (`hermes web`, `hermes up`) owns Ctrl-C and SIGTERM and stops it by cancelling."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Server
