"""The real MCP client against real hermes servers: `hermes mcp serve` as a subprocess
over stdio, and `hermes web` as a subprocess serving `/mcp` on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.helpers.processes import stop, wait_until

#: The contract's MCP tools, in its order.
CONTRACT_TOOLS = [
    "board_add",
    "board_list",
    "board_show",
    "board_log",
    "board_comment",
    "board_approve",
    "board_reject",
    "board_reply",
    "board_cancel",
    "board_retry",
    "goal_add",
    "goal_status",
    "cron_add",
    "cron_list",
    "board_context",
]


@asynccontextmanager
async def over_stdio(cwd: Path, mode: str = "auto") -> AsyncIterator[Client]:
    """`python -m hermes mcp serve` started in `cwd` (as an MCP client starts it in its
    project), with this test's HERMES_HOME."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "hermes", "mcp", "serve"], env=dict(os.environ), cwd=cwd
    )
    async with Client(params, mode=mode) as client:
        yield client


@asynccontextmanager
async def over_http(url: str, token: str | None = None) -> AsyncIterator[Client]:
    """A client of `/mcp` at `url`, sending `token` as a bearer token when given."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with create_mcp_http_client(headers=headers) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            yield client


async def tool(client: Client, name: str, /, **arguments: Any) -> Any:
    """Call a tool that must succeed; its `--json` document."""
    result = await client.call_tool(name, arguments)
    text = result.content[0].text  # type: ignore[union-attr]
    assert not result.is_error, text
    return json.loads(text)


async def tool_error(client: Client, name: str, /, **arguments: Any) -> str:
    """Call a tool that must fail; the error the caller reads."""
    result = await client.call_tool(name, arguments)
    assert result.is_error, result.content
    return str(result.content[0].text)  # type: ignore[union-attr]


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def web_server(env: dict[str, str] | None = None) -> Iterator[str]:
    """`python -m hermes web --port P` as a real subprocess; yields its `/mcp` address and
    stops it (SIGTERM, then reaped) after."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hermes", "web", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    try:
        wait_until(lambda: _listening(port) or proc.poll() is not None, timeout=30)
        assert proc.poll() is None, proc.communicate()[0]
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(proc)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
