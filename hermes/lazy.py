"""Deferred imports for package APIs whose implementation is slow to import.

`profiles` (pydantic, YAML) and `worktrees` (gitpython) expose their whole API in
`__init__`, but `hermes board add` needs only a small, fast corner of each; the rest is
imported on first attribute access.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module


def lazy_attributes(package: str, homes: dict[str, str]) -> Callable[[str], object]:
    """A module `__getattr__` that imports `homes[name]` when `name` is first used."""

    def __getattr__(name: str) -> object:
        if name in homes:
            return getattr(import_module(homes[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
