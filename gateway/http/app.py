"""The one HTTP application: the web board, the JSON API, the event stream and MCP.

`create_app` puts the routes behind the guard (token, host and origin checks) and owns
the board connection they share; `hermes web` and `hermes up` serve it with uvicorn.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from gateway.http.api import Api, http_error, server_error
from gateway.http.auth import Guard
from gateway.http.events import KEEPALIVE, EventHub
from gateway.http.page import page_routes
from gateway.http.status import status_route
from hermes.board_thread import BoardThread


def create_app(db_url: str, *, token: str | None, keepalive: float = KEEPALIVE) -> Starlette:
    """The server's application for the board at `db_url`; `token` (None: none) is
    required on every request when given; event streams send a keep-alive comment
    after `keepalive` quiet seconds. `app.state.events.close()` ends every open stream
    (the server calls it when it stops)."""
    board = BoardThread(db_url, "http")
    events = EventHub(db_url, keepalive=keepalive)
    api = Api(board, events)
    from starlette.routing import Route

    from gateway.mcp.http import McpEndpoint  # MCP over streamable HTTP (see docs/mcp.md)

    mcp = McpEndpoint(board)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            async with mcp.running():
                yield
        finally:
            await events.aclose()
            board.close()

    app = Starlette(
        routes=[*api.routes(), status_route(board), *page_routes(), Route("/mcp", mcp)],
        middleware=[Middleware(Guard, token=token)],
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
    app.state.events = events
    return app
