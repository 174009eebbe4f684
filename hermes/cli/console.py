"""The rich console the CLI prints to (stdout, no automatic syntax highlighting)."""

from __future__ import annotations

from functools import cache

from rich.console import Console


@cache
def console() -> Console:
    """One shared console; rich decides colour and width from the terminal."""
    return Console(highlight=False)
