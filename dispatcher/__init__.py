"""The dispatcher: the long-lived loop that gets cards worked.

It wakes on every board change, reclaims runs whose workers died or whose leases expired,
claims ready cards within the global and per-profile concurrency limits and starts one
worker process per run. It never runs card work itself: workers do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dispatcher.loop import Dispatcher, Settings, run_dispatcher

__all__ = ["Dispatcher", "Settings", "run_dispatcher"]


def __getattr__(name: str) -> Any:
    """The loop's names, imported on first use: `dispatcher status` reads the registry
    (`dispatcher.registry`) and must not pay for the loop, git and the worker code."""
    if name in __all__:
        from dispatcher import loop

        return getattr(loop, name)
    raise AttributeError(f"module 'dispatcher' has no attribute {name!r}")
