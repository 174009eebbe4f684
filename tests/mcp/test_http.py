"""`/mcp`: the board's tools over streamable HTTP, on a real `hermes web` subprocess, with
the real MCP client; with a token, nothing works without it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from tests.conftest import Cli
from tests.mcp.clients import CONTRACT_TOOLS, over_http, tool, tool_error, web_server

TOKEN = "test-token-0123456789abcdef"


def test_the_tools_over_http(cli: Cli) -> None:
    seen: dict[str, Any] = {}
    with web_server() as url:

        async def scenario() -> None:
            async with over_http(url) as client:
                seen["tools"] = [t.name for t in (await client.list_tools()).tools]
                seen["card"] = await tool(client, "board_add", title="Over HTTP", backlog=True)
                seen["listed"] = await tool(client, "board_list", status=["backlog"])
                seen["relative"] = await tool_error(
                    client, "board_add", title="Here", repo="src/app"
                )
                seen["context"] = await tool_error(client, "board_context")

        anyio.run(scenario)
    card = seen["card"]
    assert seen["tools"] == CONTRACT_TOOLS
    # A remote caller's folder is not ours: no repository unless named by absolute path.
    assert (card["source"], card["repo"], card["status"]) == ("mcp", None, "backlog")
    assert [c["id"] for c in seen["listed"]] == [card["id"]]
    assert seen["relative"] == "repo 'src/app' is relative; give the repository's absolute path"
    assert seen["context"] == "path is missing; give the folder you work in"
    assert [c["id"] for c in cli("board", "list", "--all", "--json").json()] == [card["id"]]


def test_with_a_token_mcp_needs_it(cli: Cli) -> None:
    seen: dict[str, Any] = {}
    with web_server({"HERMES_TOKEN": TOKEN}) as url:

        async def refused() -> None:
            async with over_http(url):  # no token: the handshake itself is refused
                pass

        with pytest.raises(ExceptionGroup) as failed:  # the SDK's task groups wrap it
            anyio.run(refused)
        seen["refused"] = innermost(failed.value)
        seen["raw"] = post(url, {"Content-Type": "application/json"})
        seen["wrong"] = post(url, {"Authorization": "Bearer nope"})
        seen["foreign"] = post(
            url, {"Authorization": f"Bearer {TOKEN}", "Origin": "http://evil.test"}
        )

        async def allowed() -> None:
            async with over_http(url, TOKEN) as client:
                seen["tools"] = [t.name for t in (await client.list_tools()).tools]
                seen["card"] = await tool(client, "board_add", title="With the token", backlog=True)

        anyio.run(allowed)
    refusal = seen["refused"]
    assert isinstance(refusal, MCPError) and "error response" in str(refusal)
    assert seen["raw"][0] == 401 and "token" in seen["raw"][1]["error"]
    assert seen["wrong"][0] == 401
    assert seen["foreign"][0] == 403  # another site's page, even with the token
    assert seen["tools"] == CONTRACT_TOOLS
    assert seen["card"]["source"] == "mcp"
    ids = [c["id"] for c in cli("board", "list", "--all", "--json").json()]
    assert ids == [seen["card"]["id"]]  # the refused calls changed nothing


def innermost(error: BaseException) -> BaseException:
    """The error a task group wrapped (the first, all the way down)."""
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def post(url: str, headers: dict[str, str]) -> tuple[int, Any]:
    """A raw `tools/list` POST to `/mcp`: its status and JSON body."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())
