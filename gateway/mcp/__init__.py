"""The board as MCP tools, for Claude Code, Cursor, Codex and other agents."""
