"""Who may use the HTTP server, and protection from other web pages.

With a token (the variable `http.token_env` names holds one), every request carries it:
`Authorization: Bearer <token>`, or the page's cookie, set when the page is first opened
with `?token=`. Without a token the server listens on loopback only, and still checks
`Host` (a web page cannot reach it through a rebound DNS name).

A page on another site may make the browser send requests here, with our cookie. So a
request that changes anything must be JSON (`Content-Type: application/json`) or carry
an `Authorization` header: another site's form can send neither, and its scripts cannot
without asking first (we never say yes). Its `Origin`, when given, must be this server.
Token comparisons are constant-time.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from hermes.config import is_loopback

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "hermes_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Guard:
    """ASGI middleware: the token, the host and the origin checks, before any route."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app, self.token = app, token or None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            status, message = refusal
            await _json_error(send, status, message)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if self.token and "token" in query and scope["method"] in SAFE_METHODS:
            await _keep_token(send, scope, query, self.token)
            return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        host = headers.get("host", "")
        if self.token is None and not _loopback_host(host):
            return 421, f"host {host!r} is not this machine; open the board at 127.0.0.1"
        if self.token is not None and not self._carries_token(scope, headers):
            return 401, "this server needs its token: send Authorization: Bearer <token>"
        if scope["method"] not in SAFE_METHODS and not scope["path"].startswith("/mcp"):
            origin = headers.get("origin")
            if origin is not None and urlsplit(origin).netloc != host:
                return 403, f"requests from {origin} are not accepted"
            kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if kind != "application/json" and "authorization" not in headers:
                return 415, "send the request body as JSON (Content-Type: application/json)"
        return None

    def _carries_token(self, scope: Scope, headers: dict[str, str]) -> bool:
        assert self.token is not None
        expected = self.token.encode()
        bearer = headers.get("authorization", "")
        if bearer[:7].lower() == "bearer " and hmac.compare_digest(
            bearer[7:].strip().encode(), expected
        ):
            return True
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header carries no token
            return False
        given = cookie.get(COOKIE)
        if given is not None and hmac.compare_digest(given.value.encode(), expected):
            return True
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        offered = query.get("token", [""])[0].encode()
        return scope["method"] in SAFE_METHODS and hmac.compare_digest(offered, expected)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _loopback_host(host: str) -> bool:
    name = urlsplit(f"//{host}").hostname or ""
    return name == "localhost" or is_loopback(name)


async def _keep_token(send: Send, scope: Scope, query: dict[str, list[str]], token: str) -> None:
    """The page opened with `?token=`: keep it in a cookie and drop it from the address."""
    rest = {k: v for k, v in query.items() if k != "token"}
    location = scope["path"] + (f"?{urlencode(rest, doseq=True)}" if rest else "")
    cookie = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [
                (b"location", location.encode()),
                (b"set-cookie", cookie.encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


async def _json_error(send: Send, status: int, message: str) -> None:
    import json

    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
