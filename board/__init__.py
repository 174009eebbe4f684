"""The board: the only shared state in hermes.

Cards with dependencies, the runs that work them and the events that record every
change, in SQLite (PostgreSQL later). Everything else either creates cards or works
them, and talks to the rest of the system only through this package.
"""

from board.cards import (
    Card,
    CardDetail,
    CardFilter,
    Claim,
    DispatcherInfo,
    Event,
    LiveRun,
    NewCard,
    Run,
    Usage,
)
from board.run_ops import Backoff
from board.status import FINISHED, TRANSITIONS, Action, Status, parse_status
from board.store import Store, open_store

__all__ = [
    "FINISHED",
    "TRANSITIONS",
    "Action",
    "Backoff",
    "Card",
    "CardDetail",
    "CardFilter",
    "Claim",
    "DispatcherInfo",
    "Event",
    "LiveRun",
    "NewCard",
    "Run",
    "Status",
    "Store",
    "Usage",
    "open_store",
    "parse_status",
]
