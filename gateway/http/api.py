"""The JSON API: each route is one operation of `gateway.operations` on the board.

Answers are the documents `--json` prints. Bad input is 400 (413 for a body too large,
415 for a body that is not JSON), an unknown card in the path 404, a card in the wrong
state (or an answer to a request that has ended) 409, always as `{"error": "..."}`
worded for an API (fields by their JSON names, no command lines), and the board
unchanged: every operation is one board transaction that either happens or not, and
everything a request says is checked before it starts.

The live streams (`/api/events`, a card's log) are here too; `gateway.http.events`
does the streaming.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from gateway.http.events import SSE_HEADERS, EventHub, log_stream
from gateway.operations import APPROVALS, TOOLS, Door, Operation, worded
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
LIST_QUERY = ("status", "label", "profile", "all", "archived")
_NUMBER = re.compile(r"[0-9]{1,19}")
_TRUE, _FALSE = ("1", "true", "yes"), ("", "0", "false", "no")

Endpoint = Callable[[Request], Awaitable[Response]]


def status_of(exc: HermesError, *, missing: int = 404) -> int:
    """The HTTP status that says what kind of problem `exc` is; `missing` is the status
    of something unknown (404 for the card in the path, 400 for one a body names)."""
    if isinstance(exc, NotFound):
        return missing
    if isinstance(exc, IllegalTransition | Fenced | CycleError):
        return 409
    if isinstance(exc, StorageError):
        return 503
    return 400


def error(status: int, message: str) -> JSONResponse:
    """The API's one shape of failure."""
    return JSONResponse({"error": message}, status_code=status)


class Bad(Exception):
    """A request refused before it reaches the board (its response says why)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.response = error(status, message)


def _guarded(endpoint: Endpoint) -> Endpoint:
    async def route(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Bad as bad:
            return bad.response

    route.__doc__ = endpoint.__doc__
    return route


class Api:
    """The routes, over one board connection on its own thread."""

    def __init__(self, board: BoardThread, hub: EventHub) -> None:
        self.board, self.hub = board, hub

    def routes(self) -> list[Route]:
        """Every `/api` route of the contract (GET /api/status comes with the status
        report); other paths and methods meet `http_error`."""
        routes = [
            ("/api/cards", self.list_cards, "GET"),
            ("/api/cards", self.add_card, "POST"),
            ("/api/cards/{id}", self.one("board_show"), "GET"),
            ("/api/cards/{id}/log", self.one("board_log"), "GET"),
            ("/api/cards/{id}/log/stream", self.log_stream, "GET"),
            ("/api/cards/{id}/{action}", self.act, "POST"),
            ("/api/approvals", self.approvals, "GET"),
            ("/api/cron", self.list_cron, "GET"),
            ("/api/cron", self.add_cron, "POST"),
            ("/api/goals", self.add_goal, "POST"),
            ("/api/goals/{id}", self.one("goal_status"), "GET"),
            ("/api/events", self.events, "GET"),
        ]
        return [Route(path, _guarded(fn), methods=[method]) for path, fn, method in routes]

    async def run(
        self,
        operation: Operation,
        args: object,
        status: int = 200,
        *,
        missing: int = 404,
        name: Callable[[str], str] = str,
    ) -> Response:
        """Do `operation` on the board and answer with its document or its error."""
        try:
            result = await self.board(lambda store: operation(store, args, DOOR))
        except HermesError as exc:
            return error(status_of(exc, missing=missing), exc.worded(name))
        return JSONResponse(result, status_code=status)

    async def list_cards(self, request: Request) -> Response:
        """GET /api/cards?status=&label=&profile=&all=&archived="""
        query = _query(request, LIST_QUERY)
        statuses = [s for given in query.getlist("status") for s in given.split(",") if s.strip()]
        args: dict[str, Any] = {"status": statuses}
        for name in ("label", "profile"):
            if query.get(name):
                args[name] = query[name]
        for name in ("all", "archived"):
            if name in query:
                args[name] = _flag(name, query[name])
        return await self.run(TOOLS["board_list"], args)

    async def add_card(self, request: Request) -> Response:
        """POST /api/cards: the `board add` fields; `Idempotency-Key` is the card's key."""
        _query(request, ())
        args = _with_key(request, await _json_object(request))
        return await self.run(TOOLS["board_add"], args, 201, missing=400, name=_key_name(request))

    def one(self, name: str) -> Endpoint:
        """A GET route about the card (or goal) in the path."""
        operation = TOOLS[name]

        async def route(request: Request) -> Response:
            _query(request, ())
            return await self.run(operation, {"id": _card_id(request)})

        route.__doc__ = f"GET: {operation.summary}"
        return route

    async def act(self, request: Request) -> Response:
        """POST /api/cards/{id}/{approve|reject|reply|comment|cancel|retry}"""
        action = request.path_params["action"]
        if action not in ACTIONS:
            raise Bad(404, f"there is no action {action!r}; the actions are {', '.join(ACTIONS)}")
        card_id = _card_id(request)
        _query(request, ())
        args = await _json_object(request, empty_ok=True)
        if "id" in args:
            raise Bad(400, f"id belongs in the path (/api/cards/{card_id}/{action}); drop it")
        return await self.run(TOOLS[f"board_{action}"], {**args, "id": card_id})

    async def approvals(self, request: Request) -> Response:
        """GET /api/approvals: the cards paused for a person, with their requests."""
        _query(request, ())
        return await self.run(APPROVALS, {})

    async def list_cron(self, request: Request) -> Response:
        """GET /api/cron"""
        _query(request, ())
        return await self.run(TOOLS["cron_list"], {})

    async def add_cron(self, request: Request) -> Response:
        """POST /api/cron: the `cron add` fields."""
        _query(request, ())
        args = await _json_object(request)
        return await self.run(TOOLS["cron_add"], args, 201, missing=400)

    async def add_goal(self, request: Request) -> Response:
        """POST /api/goals: the `goal` fields; `Idempotency-Key` is the goal's key."""
        _query(request, ())
        args = _with_key(request, await _json_object(request))
        return await self.run(TOOLS["goal_add"], args, 201, missing=400, name=_key_name(request))

    async def events(self, request: Request) -> Response:
        """GET /api/events: every board event as it commits (server-sent events),
        after `Last-Event-ID` (or `?after=`), else after the newest one."""
        query = _query(request, ("after",))
        after = _resume_point(request.headers.get("last-event-id"), query.get("after"))
        if request.method == "HEAD":
            return _stream_head()
        client = await self.hub.subscribe(after)
        if client is None:
            raise Bad(503, "the server is stopping; reconnect in a moment")
        return StreamingResponse(
            self.hub.stream(client), media_type="text/event-stream", headers=SSE_HEADERS
        )

    async def log_stream(self, request: Request) -> Response:
        """GET /api/cards/{id}/log/stream: the card's logs as they grow (server-sent
        events `log`), then `end` with its status once it has finished."""
        card_id = _card_id(request)
        _query(request, ())
        try:
            await self.board(lambda store: store.card(card_id))
        except HermesError as exc:
            return error(status_of(exc), worded(exc))
        if request.method == "HEAD":
            return _stream_head()
        frames = log_stream(self.board, card_id, self.hub.closing, self.hub.keepalive)
        return StreamingResponse(frames, media_type="text/event-stream", headers=SSE_HEADERS)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, wrong method) as the API's JSON errors."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        allowed = ", ".join(_methods(request))
        answer = error(405, f"{request.method} is not allowed on {request.url.path}; use {allowed}")
        answer.headers["allow"] = allowed
        return answer
    if exc.status_code == 404:
        return error(
            404, f"nothing is served at {request.url.path}; the API's routes are in docs/api.md"
        )
    return error(exc.status_code, str(exc.detail))


def _methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path."""
    path = request.url.path
    found = {
        method
        for route in request.app.router.routes
        if isinstance(route, Route) and route.methods and route.path_regex.match(path)
        for method in route.methods
    }
    return sorted(found)


async def server_error(request: Request, exc: Exception) -> Response:
    """A fault of the server, not the request: one line, no traceback in the answer."""
    return error(500, f"the server failed ({type(exc).__name__}); its log says more")


def _stream_head() -> Response:
    """A stream's headers alone (HEAD): nothing is followed for an answer with no body."""
    return Response(media_type="text/event-stream", headers=SSE_HEADERS)


def _card_id(request: Request) -> int:
    text = request.path_params["id"].removeprefix("#")
    if not _NUMBER.fullmatch(text):
        raise Bad(400, f"{text!r} is not a card id; card ids are numbers such as 12")
    return int(text)


def _query(request: Request, known: tuple[str, ...]) -> Any:
    """The query parameters, once each is known to this route."""
    for name in request.query_params:
        if name not in known:
            listed = f"; this route takes {', '.join(known)}" if known else ""
            raise Bad(400, f"{name!r} is not a query parameter of {request.url.path}{listed}")
    return request.query_params


def _flag(name: str, text: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise Bad(400, f"{name} {text!r} is not valid: use true or false")


def _resume_point(header: str | None, query: str | None) -> int | None:
    """Where a stream resumes: the `Last-Event-ID` header (set by a reconnecting
    browser) wins over `?after=`; neither means "from now on"."""
    for name, text in (("the Last-Event-ID header", header), ("after", query)):
        if text is None:
            continue
        if not _NUMBER.fullmatch(text.strip()):
            raise Bad(400, f"{name} {text!r} is not an event id; give the id of the last event")
        return int(text.strip())
    return None


def _with_key(request: Request, args: dict[str, Any]) -> dict[str, Any]:
    """The body's arguments with the `Idempotency-Key` header as `key`."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return args
    if "key" in args and args["key"] != key:
        raise Bad(400, "the Idempotency-Key header and key in the body differ; give one of them")
    if not key.strip():
        raise Bad(400, "the Idempotency-Key header is empty; give a non-empty key or leave it out")
    return {**args, "key": key}


def _key_name(request: Request) -> Callable[[str], str]:
    """How errors name the key: by the header when the request gave it that way."""
    if "idempotency-key" not in request.headers:
        return str
    return lambda field: "the Idempotency-Key header" if field == "key" else field


async def _json_object(request: Request, *, empty_ok: bool = False) -> dict[str, Any]:
    """The request's body as a JSON object; anything else is refused, saying why."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise Bad(413, f"the request body is larger than {MAX_BODY:,} bytes; send less")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise Bad(413, f"the request body is larger than {MAX_BODY:,} bytes; send less")
    if not raw.strip():
        if empty_ok:
            return {}
        raise Bad(400, "the request body is empty; send a JSON object")
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != "application/json":
        raise Bad(415, "send the request body as JSON, with Content-Type: application/json")
    try:
        value = json.loads(bytes(raw), parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Bad(
            400, f"the request body is not valid JSON ({_why(exc)}); send a JSON object"
        ) from None
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")
        raise Bad(400, f"the request body is {'null' if value is None else kind}; send an object")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _why(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc).split("\n", 1)[0]
