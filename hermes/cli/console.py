"""Where the CLI prints: the board's plain views directly, anything rich through rich.

rich is imported only when something rich is printed (skills, dispatcher status, the
demo): the board's own views (`hermes.cli.views`) are drawn by `hermes.cli.text`, and a
command that prints only those never pays for rich.
"""

from __future__ import annotations

from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

from hermes.cli import text

if TYPE_CHECKING:
    from rich.console import Console


class Printer:
    """stdout for people: `print` takes views and rich renderables alike."""

    @cached_property
    def rich(self) -> Console:
        """The rich console (no automatic highlighting), made on first use."""
        from rich.console import Console

        return Console(highlight=False)

    def print(self, *objects: Any, **options: Any) -> None:
        for item in objects:
            if hasattr(item, "render") and not hasattr(item, "__rich_console__"):
                text.show(item)
            else:
                self.rich.print(item, **options)


@cache
def console() -> Printer:
    """One shared printer."""
    return Printer()
