"""`hermes mcp serve`: the board's MCP tools over stdin and stdout.

An MCP client (Claude Code, Cursor, Codex) starts this in its own project folder and
talks JSON-RPC over the pipes, so stdout carries the protocol and nothing else: the SDK
points file descriptor 1 at stderr while it serves (a stray print cannot corrupt the
stream) and every log line goes to stderr. The folder the client started us in is the
caller's folder, as for the CLI: a card added without `repo` works in the repository
around it, and `board_context` finds the card whose worktree it is. When the client
closes stdin the server ends, exit 0.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def serve_stdio() -> None:
    """Serve the tools over stdio until the client closes stdin."""
    import anyio

    from hermes.config import load_config

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="hermes mcp: %(message)s")
    db_url = load_config().db_url  # a broken config fails here, as one `error:` line
    try:
        anyio.run(_serve, db_url, Path.cwd())
    except KeyboardInterrupt:  # Ctrl-C in a terminal: stop quietly
        pass


async def _serve(db_url: str, cwd: Path) -> None:
    from mcp.server.stdio import stdio_server

    from gateway.mcp.tools import build_server
    from gateway.operations import Door
    from hermes.board_thread import BoardThread

    board = BoardThread(db_url, "mcp")
    try:
        server = build_server(board, Door("mcp", cwd=cwd))
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
    finally:
        board.close()
