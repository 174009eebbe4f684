"""`/mcp`: the board's MCP tools over streamable HTTP, on the web server.

The HTTP application mounts `McpEndpoint` at `/mcp` and keeps `running()` open for its
lifespan. Who may call is decided before a request gets here, by the server's guard
(`gateway.http.auth`): the token when one is set, a loopback `Host` when none is, and
the `Origin` check MCP's transport guidance asks for (a page of another site must not
drive the tools through a user's browser; MCP clients send no `Origin`). The SDK itself
insists on a JSON body for every POST.

Stateless: every request is served on its own (no session to lose when `hermes web`
restarts, nothing held open between calls) and answered with plain JSON rather than an
event stream, so stopping the server never waits on an idle MCP connection. Remote
callers are `Door("mcp", cwd=None)`: their folders are not ours, so a card they add
works in a repository only when they name it by absolute path.

When the MCP SDK is not installed the endpoint answers 503 saying so; the API and the
page work without it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from hermes.board_thread import BoardThread

log = logging.getLogger("hermes.mcp")

MISSING = (
    "MCP is off on this server: the mcp package is not installed; "
    "install it with pip install 'mcp>=2.3,<3' and restart hermes web"
)


class McpEndpoint:
    """The ASGI app at `/mcp`, and the lifetime of the SDK's session manager."""

    def __init__(self, board: BoardThread) -> None:
        self.manager: Any = None
        try:
            self.manager = _session_manager(board)
        except ImportError:
            log.warning("%s", MISSING)

    @property
    def on(self) -> bool:
        """Whether `/mcp` serves the tools (the MCP SDK is installed)."""
        return self.manager is not None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Keep the MCP session manager running (the HTTP app's lifespan holds this)."""
        if self.manager is None:
            yield
            return
        async with self.manager.run():
            yield

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if self.manager is None:
            await _json_error(send, 503, MISSING)
            return
        await self.manager.handle_request(scope, receive, send)


def _session_manager(board: BoardThread) -> Any:
    """The SDK's streamable-HTTP session manager over the board's tools (imports the SDK)."""
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

    from gateway.mcp.tools import build_server
    from gateway.operations import Door

    server = build_server(board, Door("mcp", cwd=None))
    return StreamableHTTPSessionManager(app=server, stateless=True, json_response=True)


async def _json_error(send: Any, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
