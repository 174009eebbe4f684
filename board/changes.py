"""The board's change signal: something another process committed, so look again.

SQLite has no notifications; its `data_version` moves whenever another connection
commits, and reading it costs microseconds, so it is polled. PostgreSQL announces every
change with NOTIFY from inside the writing transaction: the LISTEN connection's socket
becomes readable when the change commits, so a follower waits on it instead of polling
(with a slow poll kept as a safety net). Everything that waits on the board (the
dispatcher, the event feed, live views, the web server's /api/events) waits on this one
signal.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from board.db import Database, open_database

POLL = 0.02
#: On PostgreSQL, how often the announcements are looked at even without a wake-up from
#: the socket (a missed wake-up costs at most this).
NOTIFIED_POLL = 1.0


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
    if db.fileno() is not None:
        return _notified(db, seen)
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


async def _notified(db: Database, seen: int) -> AsyncGenerator[None]:
    """Wait on the LISTEN socket: awake when an announcement arrives. The socket is
    watched only while waiting, so announcements arriving while the caller works on the
    last change do not spin the event loop."""
    loop = asyncio.get_running_loop()
    readable = asyncio.Event()
    try:
        while True:
            socket = db.fileno()  # a new one after a lost connection was made again
            assert socket is not None
            readable.clear()
            loop.add_reader(socket, readable.set)
            try:
                await asyncio.wait_for(readable.wait(), NOTIFIED_POLL)
            except TimeoutError:
                pass
            finally:
                loop.remove_reader(socket)
            version = db.data_version()
            if version != seen:
                seen = version
                yield
    finally:
        db.close()
