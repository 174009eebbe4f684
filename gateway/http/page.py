"""The web board at `/`: one page of HTML, CSS and plain JavaScript over the API."""

from __future__ import annotations

from starlette.routing import BaseRoute


def page_routes() -> list[BaseRoute]:
    """The page and its files."""
    return []
