"""The board's change signal: something another process committed, so look again.

SQLite has no notifications; its `data_version` moves whenever another connection
commits, and reading it costs microseconds, so it is polled. Everything that waits on the
board (the dispatcher, the event feed, live views) waits on this one signal.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from board.db import Database, open_database

POLL = 0.02


def board_changes(db_url: str, every: float = POLL) -> AsyncGenerator[None]:
    """Yield each time another process has committed to the board since this call (then
    since the last yield). The first reading is taken here, not at the first `anext`: a
    caller that reads the board right after this call misses no commit in between."""
    db = open_database(db_url)
    try:
        seen = db.data_version()
    except BaseException:
        db.close()
        raise
    return _changes(db, seen, every)


async def _changes(db: Database, seen: int, every: float) -> AsyncGenerator[None]:
    try:
        while True:
            await asyncio.sleep(every)
            version = db.data_version()
            if version != seen:
                seen = version
                yield
    finally:
        db.close()
