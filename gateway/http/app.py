"""The one HTTP application: the web board, the JSON API, the event stream and MCP.

`create_app` puts the routes behind the guard (token, host and origin checks) and owns
the board connection they share; `hermes web` and `hermes up` serve it with uvicorn.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware

from gateway.http.api import Api
from gateway.http.auth import Guard
from gateway.http.page import page_routes
from hermes.board_thread import BoardThread


def create_app(db_url: str, *, token: str | None) -> Starlette:
    """The server's application for the board at `db_url`; `token` (None: none) is
    required on every request when given."""
    board = BoardThread(db_url, "http")
    api = Api(board)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            board.close()

    return Starlette(
        routes=[*api.routes(), *page_routes()],
        middleware=[Middleware(Guard, token=token)],
        lifespan=lifespan,
    )
