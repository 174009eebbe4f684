"""The HTTP server: the web board at `/`, the JSON API under `/api`, MCP at `/mcp`."""
