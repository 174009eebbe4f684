"""The event feed: the board's events after a cursor, in order, as they commit.

Every front door follows the board the same way: a live terminal view, a chat
notification, a web page's event stream, an MCP client. Each keeps a cursor (the id of
the last event it has handled), reads what came after it, and waits on the board's
change signal for more. A cursor survives restarts wherever it is kept, so nothing is
skipped and nothing is polled on a slow tick.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from board import Event, open_store
from board.changes import POLL, board_changes

BATCH = 500


class Feed:
    """The events of one board, from a cursor on."""

    def __init__(self, db_url: str, *, every: float = POLL) -> None:
        self.db_url, self.every = db_url, every
        self._store = open_store(db_url)

    def close(self) -> None:
        """Release the feed's connection."""
        self._store.close()

    def last(self) -> int:
        """The newest event's id: following from here gives only what happens next."""
        return self._store.last_event_id()

    def after(self, cursor: int, limit: int = BATCH) -> list[Event]:
        """The events after `cursor`, oldest first (at most `limit`)."""
        return self._store.events_after(cursor, limit)

    async def follow(self, cursor: int) -> AsyncIterator[Event]:
        """Every event after `cursor`, in order, forever: what is there now, then each
        new one soon after it commits."""
        changes = board_changes(self.db_url, self.every)
        try:
            while True:
                batch = self.after(cursor)
                for event in batch:
                    assert event.id is not None
                    cursor = event.id
                    yield event
                if len(batch) < BATCH:
                    await anext(changes)
        finally:
            await changes.aclose()
