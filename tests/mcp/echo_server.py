"""A small stdio MCP server for the tests: the tools hermes' agents are offered through a
profile's `mcp_servers`.

Run as `python tests/mcp/echo_server.py`. It says where it runs and with which
environment (so tests can check the server's surroundings), and writes its pid to the
file `ECHO_PID_FILE` names, so a test can check the server is gone after the run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("echo")


@server.tool()
def echo(text: str) -> str:
    """Say the text back."""
    return f"echo: {text}"


@server.tool()
def fail(reason: str) -> str:
    """Always fails, with the reason given."""
    raise ToolError(f"failed on purpose: {reason}")


@server.tool()
def surroundings() -> str:
    """The folder this server runs in and the names of its environment variables."""
    return f"cwd={os.getcwd()} env={','.join(sorted(os.environ))}"


@server.tool()
async def sleep(seconds: float) -> str:
    """Answers after that many seconds."""
    await anyio.sleep(seconds)
    return "awake"


@server.tool(name="hidden.tool")
def hidden() -> str:
    """A tool a profile's allowed_tools leaves out."""
    return "you should not see this"


if __name__ == "__main__":
    pid_file = os.environ.get("ECHO_PID_FILE")
    if pid_file:
        Path(pid_file).write_text(str(os.getpid()))
    print("echo server ready", file=sys.stderr, flush=True)
    server.run()
