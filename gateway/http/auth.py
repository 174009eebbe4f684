"""Who may use the HTTP server, and protection from other web pages.

With a token (the variable `http.token_env` names holds one), every request carries it,
on every route: `Authorization: Bearer <token>`, or the page's cookie, set when a page
is first opened with `?token=<token>` (answered with a redirect to the same address
without it, so the token does not stay in the address bar, history or logs). Without a
token the server listens on loopback only (`server.check_bind`), and still checks
`Host`, so a web page cannot reach it through a DNS name rebound to 127.0.0.1.

A page on another site may make the browser send requests here, with our cookie where
the browser allows it (it is `SameSite=Strict`, so it should not). Belt and braces: a
request whose `Origin` is another site is refused outright, and a request that sends a
body must send JSON (`Content-Type: application/json`): another site's form can send
neither, and its scripts cannot without asking first (a CORS preflight, to which this
server never says yes). Token comparisons are constant-time; the cookie holds a keyed
digest of the token, not the token itself.

Every answer says `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`;
`/api` and `/mcp` answers are never cached.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from hermes.config import is_loopback

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "hermes_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ALWAYS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))
UNCACHED = ("/api", "/mcp")


def cookie_value(token: str) -> str:
    """What the page's cookie holds for `token`: a digest keyed by it (hex, so always a
    valid cookie value, and the token itself never sits in the browser)."""
    return hmac.new(token.encode(), b"hermes web cookie", hashlib.sha256).hexdigest()


class Guard:
    """ASGI middleware: the token, the host and the origin checks, before any route,
    and the headers every answer carries."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app, self.token = app, token or None
        self._bearer = self.token.encode() if self.token else b""
        self._cookie = cookie_value(self.token).encode() if self.token else b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)  # the lifespan
            return
        headers = _headers(scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            if scope["type"] == "websocket":
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": 1008})
                return
            await _json_error(send, *refusal)
            return
        send = _with_headers(send, scope["path"].startswith(UNCACHED))
        if self._offered_token(scope):
            await _keep_token(send, scope, self._cookie.decode())
            return
        await self.app(scope, receive, send)

    def _offered_token(self, scope: Scope) -> bool:
        """Whether this is a page opened with the right `?token=` (only GET and HEAD:
        a token in an address is never taken for a write)."""
        offered = _query_token(scope)
        return (
            self.token is not None
            and offered is not None
            and scope.get("method") in ("GET", "HEAD")
            and hmac.compare_digest(offered.encode(), self._bearer)
        )

    def _refusal(self, scope: Scope, headers: dict[str, bytes]) -> tuple[int, str] | None:
        host = headers.get("host", b"").decode("latin-1")
        if self.token is None and not _loopback_host(host):
            return 421, f"host {host!r} is not this machine; open the board at 127.0.0.1"
        if self.token is not None and not self._carries_token(scope, headers):
            return 401, (
                "this server needs its token: send Authorization: Bearer <token> "
                "(a browser: open the page once with ?token=<token>)"
            )
        origin = headers.get("origin")
        if origin is not None and not _same_origin(origin.decode("latin-1"), host):
            return 403, f"requests from the page {origin.decode('latin-1')!r} are not accepted"
        if scope.get("method") not in SAFE_METHODS and scope["type"] == "http":
            kind = headers.get("content-type", b"").split(b";", 1)[0].strip().lower()
            if kind != b"application/json" and _has_body(headers):
                return 415, "send the request body as JSON, with Content-Type: application/json"
        return None

    def _carries_token(self, scope: Scope, headers: dict[str, bytes]) -> bool:
        bearer = headers.get("authorization", b"")
        if bearer[:7].lower() == b"bearer " and hmac.compare_digest(
            bearer[7:].strip(), self._bearer
        ):
            return True
        given = _cookie(headers)
        if given is not None and hmac.compare_digest(given.encode(), self._cookie):
            return True
        return self._offered_token(scope)


def _headers(scope: Scope) -> dict[str, bytes]:
    """Header name -> raw value (a repeated header: its first value)."""
    found: dict[str, bytes] = {}
    for name, value in scope["headers"]:
        found.setdefault(name.decode("latin-1").lower(), value)
    return found


def _cookie(headers: dict[str, bytes]) -> str | None:
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", b"").decode("latin-1"))
    except CookieError:  # a malformed cookie header carries no token
        return None
    given = cookie.get(COOKIE)
    return None if given is None else given.value


def _query_token(scope: Scope) -> str | None:
    query = scope.get("query_string", b"").decode("latin-1")
    return next((value for name, value in parse_qsl(query) if name == "token"), None)


def _has_body(headers: dict[str, bytes]) -> bool:
    """Whether a request says it sends a body (a form always does, even an empty one)."""
    if "transfer-encoding" in headers or "content-type" in headers:
        return True
    return headers.get("content-length", b"0").strip() not in (b"", b"0")


def _loopback_host(host: str) -> bool:
    name = urlsplit(f"//{host}").hostname or ""
    return name == "localhost" or is_loopback(name)


def _same_origin(origin: str, host: str) -> bool:
    """Whether a browser's `Origin` is this server as the request addressed it."""
    return urlsplit(origin).netloc.lower() == host.lower() != ""


def _with_headers(send: Send, uncached: bool) -> Send:
    """`send`, adding the headers every answer carries (unless a route set its own)."""
    extra = [*ALWAYS, *([(b"cache-control", b"no-store")] if uncached else [])]

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {name.lower() for name, _ in message.get("headers", [])}
            added = [(name, value) for name, value in extra if name not in present]
            message["headers"] = [*message.get("headers", []), *added]
        await send(message)

    return sending


async def _keep_token(send: Send, scope: Scope, cookie: str) -> None:
    """A page opened with `?token=`: keep it in a cookie and drop it from the address."""
    query = scope.get("query_string", b"").decode("latin-1")
    rest = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "token"]
    path = scope.get("raw_path") or quote(scope["path"]).encode()
    path = b"/" + path.lstrip(b"/")  # `//host/...` would send the browser to another site
    location = path + (f"?{urlencode(rest)}".encode() if rest else b"")
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [
                (b"location", location),
                (b"set-cookie", f"{COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Strict".encode()),
                (b"cache-control", b"no-store"),
                (b"content-length", b"0"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


async def _json_error(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *ALWAYS,
    ]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
