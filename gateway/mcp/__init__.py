"""The board as MCP tools, for Claude Code, Cursor, Codex and other agents.

`tools` builds the MCP server from `gateway.operations.TOOLS` (the table the JSON API
uses too); `stdio` serves it for `hermes mcp serve`; `http` is `/mcp` on the web server.
Nothing here is imported on the CLI's quick paths: the MCP SDK takes seconds to load.
"""
