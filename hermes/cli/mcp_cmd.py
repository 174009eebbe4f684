"""`hermes mcp serve`: the board's MCP tools over stdio, for Claude Code, Cursor, Codex."""

from __future__ import annotations

import typer

mcp_app = typer.Typer(help="The board as MCP tools for other agents.", no_args_is_help=True)


@mcp_app.command("serve")
def serve() -> None:
    """Serve the board's MCP tools over stdio (add it to an MCP client; see docs/mcp.md)."""
    from gateway.mcp.stdio import serve_stdio

    serve_stdio()
