"""The event feed: events after a cursor, in order, and new ones as another process
commits them."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

from board import NewCard, Store
from board.clock import utcnow
from hermes.feed import Feed


def test_events_after_a_cursor_in_order(store: Store, db_url: str) -> None:
    feed = Feed(db_url)
    try:
        start = feed.last()
        first, _ = store.add_card(NewCard("one", "shell", 1, body="true"), utcnow())
        second, _ = store.add_card(NewCard("two", "shell", 1, body="true", after=[first]), utcnow())
        store.comment(first, "hello", utcnow())
        events = feed.after(start)
        assert [(e.card_id, e.kind) for e in events] == [
            (first, "created"), (second, "created"), (first, "comment"),
        ]  # fmt: skip
        ids = [e.id for e in events]
        assert ids == sorted(ids) and feed.after(ids[-1]) == [] and feed.last() == ids[-1]
        assert feed.after(ids[0], limit=1)[0].kind == "created"
        assert events[2].to_feed_json() == {
            "id": ids[2], "card_id": first, "at": events[2].at, "kind": "comment",
            "actor": "cli", "data": {"text": "hello"},
        }  # fmt: skip
    finally:
        feed.close()


def test_follow_yields_what_another_process_commits_as_it_commits(
    db_url: str, store: Store
) -> None:
    feed = Feed(db_url)

    async def next_event(cursor: int) -> tuple[int | None, str, float]:
        started = time.monotonic()
        async for event in feed.follow(cursor):
            return event.card_id, event.kind, time.monotonic() - started
        raise AssertionError("the feed ended")

    async def scenario() -> tuple[int | None, str, float]:
        cursor = feed.last()
        waiting = asyncio.create_task(next_event(cursor))
        await asyncio.sleep(0.3)  # the follower is idle, waiting on the change signal
        assert not waiting.done()
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "hermes", "board", "add", "from elsewhere", "--no-repo"],
            check=True,
            capture_output=True,
        )
        return await asyncio.wait_for(waiting, 10)

    try:
        card, kind, _waited = asyncio.run(scenario())
    finally:
        feed.close()
    assert (card, kind) == (1, "created")
