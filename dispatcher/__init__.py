"""The dispatcher: the long-lived loop that gets cards worked.

It wakes on every board change, reclaims runs whose workers died or whose leases expired,
claims ready cards within the global and per-profile concurrency limits and starts one
worker process per run. It never runs card work itself: workers do.
"""

from dispatcher.loop import Dispatcher, Settings, run_dispatcher

__all__ = ["Dispatcher", "Settings", "run_dispatcher"]
