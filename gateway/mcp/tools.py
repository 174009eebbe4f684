"""The board's MCP tools: `gateway.operations.TOOLS`, offered through the MCP SDK.

Nothing about a tool is decided here: its name, description and arguments come from the
operation table the JSON API uses too (the input schema is the pydantic model's JSON
schema), and its result is the document `--json` prints. This module only translates:
a tool call becomes one operation on the board's own thread (the event loop never waits
on SQLite), the answer becomes JSON text (and structured content when it is an object),
and a `HermesError` becomes a tool error (`isError`) worded for an API, fields by their
JSON names, so the calling agent reads what to fix and tries again.

Importing this module imports the MCP SDK (about two seconds): only `hermes mcp serve`
and the HTTP server's `/mcp` do.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server

from gateway.operations import TOOLS, Door, Operation, worded
from hermes import __version__
from hermes.board_thread import BoardThread
from hermes.errors import HermesError

log = logging.getLogger("hermes.mcp")

INSTRUCTIONS = (
    "hermes is a kanban board worked by AI and shell agents. Delegate work with board_add "
    "(or goal_add for an objective a planner breaks into cards), follow it with board_list, "
    "board_show and board_log, and answer cards that wait for a person with board_approve, "
    "board_reject or board_reply. Results are the JSON documents `hermes ... --json` prints."
)

#: Tools that only read the board (MCP clients may call these without asking the user).
READ_ONLY = frozenset(
    {"board_list", "board_show", "board_log", "goal_status", "cron_list", "board_context"}
)


def tool_of(operation: Operation) -> types.Tool:
    """The MCP description of one operation: its summary and its arguments' JSON schema."""
    read_only = operation.name in READ_ONLY
    return types.Tool(
        name=operation.name,
        description=operation.summary,
        input_schema=operation.args.model_json_schema(),
        annotations=types.ToolAnnotations(read_only_hint=read_only, destructive_hint=False),
    )


def listed_tools() -> list[types.Tool]:
    """Every tool, in the contract's order."""
    return [tool_of(operation) for operation in TOOLS.values()]


def input_schema(name: str) -> dict[str, Any] | None:
    """A tool's input schema by name (the SDK checks `Mcp-Param-*` headers against it)."""
    operation = TOOLS.get(name)
    return None if operation is None else operation.args.model_json_schema()


def answer(document: Any) -> types.CallToolResult:
    """A successful call: the `--json` document as text, and as structured content when
    it is a JSON object (MCP's structured content must be one; lists go as text only)."""
    text = json.dumps(document, ensure_ascii=False)
    structured = document if isinstance(document, dict) else None
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structured_content=structured
    )


def failure(message: str) -> types.CallToolResult:
    """A tool error the calling model reads (not a protocol error: it can fix and retry)."""
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=message)], is_error=True
    )


async def call(board: BoardThread, door: Door, name: str, arguments: Any) -> types.CallToolResult:
    """Do tool `name` on the board, as `door`, and say how it went."""
    operation = TOOLS.get(name)
    if operation is None:
        return failure(f"there is no tool {name!r}; the tools are {', '.join(TOOLS)}")
    try:
        document = await board(lambda store: operation(store, arguments, door))
    except HermesError as exc:
        return failure(worded(exc))
    except Exception as exc:  # a bug: tell the caller plainly and keep serving
        log.exception("tool %s failed", name)
        return failure(f"hermes failed unexpectedly: {type(exc).__name__}: {exc}")
    return answer(document)


def build_server(board: BoardThread, door: Door) -> Server[Any]:
    """An MCP server whose tools act on the board behind `board`, as `door`."""
    tools = listed_tools()

    async def on_list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def on_call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        return await call(board, door, params.name, params.arguments)

    return Server(
        "hermes",
        version=__version__,
        title="hermes board",
        instructions=INSTRUCTIONS,
        get_tool_input_schema=input_schema,
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
    )
