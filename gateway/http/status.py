"""`GET /api/status`: the board at a glance — dispatchers, counts, chat platforms."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hermes import reports
from hermes.board_thread import BoardThread
from hermes.config import load_config


def status_route(board: BoardThread) -> Route:
    """The route, over the server's board connection."""

    async def status(request: Request) -> Response:
        configured = load_config().chat_platforms()
        found = await board(lambda store: reports.board_status(store, configured, store.now()))
        return JSONResponse(found)

    return Route("/api/status", status, methods=["GET"])
