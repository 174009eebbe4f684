"""The JSON API: each route is one operation of `gateway.operations` on the board.

Answers are the documents `--json` prints. Bad input is 400, an unknown card 404, a
card in the wrong state (or an answer to a request that has ended) 409, always as
`{"error": "..."}` worded for an API (fields by their JSON names, no command lines), and
the board unchanged: every operation is one board transaction that either happens or not.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.operations import APPROVALS, TOOLS, Door, Operation
from hermes.board_thread import BoardThread
from hermes.errors import (
    CycleError,
    Fenced,
    HermesError,
    IllegalTransition,
    NotFound,
    StorageError,
)

DOOR = Door("api")
ACTIONS = ("approve", "reject", "reply", "comment", "cancel", "retry")
MAX_BODY = 2 * 1024 * 1024  # a card's text is at most 1 MiB; JSON escaping may double it


def status_of(exc: HermesError) -> int:
    """The HTTP status that says what kind of problem `exc` is."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, IllegalTransition | Fenced | CycleError):
        return 409
    if isinstance(exc, StorageError):
        return 503
    return 400


def error(status: int, message: str) -> JSONResponse:
    """The API's one shape of failure."""
    return JSONResponse({"error": message}, status_code=status)


class Api:
    """The routes, over one board connection on its own thread."""

    def __init__(self, board: BoardThread) -> None:
        self.board = board

    def routes(self) -> list[Route]:
        """Every `/api` route of the contract."""
        return [
            Route("/api/cards", self.list_cards, methods=["GET"]),
            Route("/api/cards", self.add_card, methods=["POST"]),
            Route("/api/cards/{id}", self.one("board_show"), methods=["GET"]),
            Route("/api/cards/{id}/log", self.one("board_log"), methods=["GET"]),
            Route("/api/cards/{id}/{action}", self.act, methods=["POST"]),
            Route("/api/approvals", self.approvals, methods=["GET"]),
            Route("/api/cron", self.list_cron, methods=["GET"]),
            Route("/api/cron", self.add_cron, methods=["POST"]),
            Route("/api/goals", self.add_goal, methods=["POST"]),
            Route("/api/goals/{id}", self.one("goal_status"), methods=["GET"]),
        ]

    async def run(self, operation: Operation, args: object, status: int = 200) -> Response:
        """Do `operation` on the board and answer with its document or its error."""
        try:
            result = await self.board(lambda store: operation(store, args, DOOR))
        except HermesError as exc:
            return error(status_of(exc), exc.worded())
        return JSONResponse(result, status_code=status)

    async def list_cards(self, request: Request) -> Response:
        """GET /api/cards?status=&label=&profile=&all=&archived="""
        query = request.query_params
        args: dict[str, Any] = {"status": query.getlist("status")}
        for name in ("label", "profile"):
            if name in query:
                args[name] = query[name]
        for name in ("all", "archived"):
            if name in query:
                args[name] = query[name].lower() in ("1", "true", "yes")
        return await self.run(TOOLS["board_list"], args)

    async def add_card(self, request: Request) -> Response:
        """POST /api/cards: the `board add` fields; `Idempotency-Key` is the card's key."""
        args = await _json_object(request)
        if isinstance(args, Response):
            return args
        key = request.headers.get("idempotency-key")
        if key is not None:
            args = {**args, "key": key}
        return await self.run(TOOLS["board_add"], args, 201)

    def one(self, name: str) -> Any:
        """A GET route about the card (or goal) in the path."""
        operation = TOOLS[name]

        async def route(request: Request) -> Response:
            card_id = _card_id(request)
            if isinstance(card_id, Response):
                return card_id
            return await self.run(operation, {"id": card_id})

        return route

    async def act(self, request: Request) -> Response:
        """POST /api/cards/{id}/{approve|reject|reply|comment|cancel|retry}"""
        action = request.path_params["action"]
        if action not in ACTIONS:
            return error(404, f"no action {action!r}; the actions are {', '.join(ACTIONS)}")
        card_id = _card_id(request)
        if isinstance(card_id, Response):
            return card_id
        args = await _json_object(request, empty_ok=True)
        if isinstance(args, Response):
            return args
        return await self.run(TOOLS[f"board_{action}"], {**args, "id": card_id})

    async def approvals(self, request: Request) -> Response:
        """GET /api/approvals: the cards paused for a person, with their requests."""
        return await self.run(APPROVALS, {})

    async def list_cron(self, request: Request) -> Response:
        """GET /api/cron"""
        return await self.run(TOOLS["cron_list"], {})

    async def add_cron(self, request: Request) -> Response:
        """POST /api/cron: the `cron add` fields."""
        args = await _json_object(request)
        if isinstance(args, Response):
            return args
        return await self.run(TOOLS["cron_add"], args, 201)

    async def add_goal(self, request: Request) -> Response:
        """POST /api/goals: the `goal` fields; `Idempotency-Key` is the goal's key."""
        args = await _json_object(request)
        if isinstance(args, Response):
            return args
        key = request.headers.get("idempotency-key")
        if key is not None:
            args = {**args, "key": key}
        return await self.run(TOOLS["goal_add"], args, 201)


def _card_id(request: Request) -> int | Response:
    text = request.path_params["id"].removeprefix("#")
    if not text.isdigit() or len(text) > 18:
        return error(400, f"{text!r} is not a card id; card ids are numbers such as 12")
    return int(text)


async def _json_object(request: Request, *, empty_ok: bool = False) -> dict[str, Any] | Response:
    """The request's body as a JSON object, or the error response saying what is wrong."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            return error(413, f"the request body is larger than {MAX_BODY:,} bytes")
    if not raw.strip() and empty_ok:
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return error(400, f"the request body is not valid JSON ({exc}); send a JSON object")
    if not isinstance(value, dict):
        return error(400, f"the request body must be a JSON object, not {type(value).__name__}")
    return value
