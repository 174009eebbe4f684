"""The store: the one object through which anything reads or changes the board.

It is assembled from parts kept in their own modules (card commands, goals, cron jobs,
the run hot path, the dispatcher's reads and records, views); every SQL statement is in
`board.queries`.
"""

from __future__ import annotations

from datetime import datetime

from board.clock import utcnow
from board.cron_ops import CronCommands
from board.db import Clock, open_database
from board.dispatch_ops import DispatchReads
from board.gateway_ops import GatewayCommands
from board.migrations import migrate
from board.reads import Reads
from board.run_ops import RunCommands


class Store(CronCommands, RunCommands, DispatchReads, GatewayCommands, Reads):
    """The board: cards, dependencies, runs and events behind small transactional calls."""

    def close(self) -> None:
        """Release the database connection."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(
    url: str,
    *,
    synchronous: str | None = None,
    now: datetime | None = None,
    clock: Clock | None = None,
) -> Store:
    """Open (creating or migrating as needed) the board at `url`: SQLite or PostgreSQL,
    by the URL's scheme. `clock="caller"` makes a PostgreSQL board use the times the
    calls pass instead of the server's clock (for tests written with literal times)."""
    db = open_database(url, synchronous=synchronous, clock=clock)
    try:
        migrate(db, now or utcnow())
    except BaseException:
        db.close()
        raise
    return Store(db)
