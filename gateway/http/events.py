"""Live streams over HTTP (server-sent events): the board's events and a card's log.

`/api/events` gives every board event as its transaction commits. However many browsers
and scripts listen, the server follows the board once: one follower wakes on the board's
change signal, reads what committed and hands each event, already encoded, to every
client's queue. A client that falls too far behind is disconnected rather than let its
queue grow without bound; it reconnects with `Last-Event-ID` and reads what it missed
from the board, like a client resuming after a restart. The change signal is the board's
own (`board.changes`), the one the dispatcher waits on, so an event reaches a stream
within tens of milliseconds of its commit, not on a slow tick.

`/api/cards/{id}/log/stream` follows one card's run logs, which are files, not rows:
those are checked a few times a second while someone watches.

Both kinds of stream send a comment line every `KEEPALIVE` seconds while quiet (so
proxies and clients see the connection alive) and end at once when the server stops.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from board import Event, Status, Store
from board.changes import POLL, board_changes
from hermes.board_thread import BoardThread
from hermes.paths import logs_dir
from workers.logs import card_logs

#: Seconds between keep-alive comments on a quiet stream. `create_app(keepalive=...)` and
#: the server's `HERMES_HTTP_KEEPALIVE` variable lower it (tests, short proxy timeouts).
KEEPALIVE = 15.0
#: Events a client may fall behind before it is disconnected (it resumes from its id).
BACKLOG = 1000
#: Events read from the board at once, by the follower and by a client catching up.
BATCH = 500
#: Seconds between looks at a watched card's log files and status.
LOG_POLL = 0.2
#: At most this much log text goes in one `log` event.
LOG_PIECE = 64 * 1024
#: Bytes read from one log file at a time.
READ_SIZE = 4 * LOG_PIECE
#: Statuses after which a card's log no longer grows.
ENDED = frozenset({Status.DONE, Status.FAILED, Status.CANCELLED, Status.REVIEW})

log = logging.getLogger(__name__)
KEEPALIVE_FRAME = b": keep-alive\n\n"
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
_END = None  # a client's queue holds this last: the stream is over


def event_frame(event: Event) -> bytes:
    """One board event as server-sent event text: its id, and the event as one line of
    JSON (the feed's document)."""
    data = json.dumps(event.to_feed_json(), ensure_ascii=False, separators=(",", ":"))
    return f"id: {event.id}\ndata: {data}\n\n".encode()


def named_frame(name: str, data: str) -> bytes:
    """A server-sent event of type `name`; `data` must be one line."""
    return f"event: {name}\ndata: {data}\n\n".encode()


def _failed(task: asyncio.Task[None]) -> bool:
    """Whether `task` has ended without doing its job (so it is worth another try)."""
    return task.done() and (task.cancelled() or task.exception() is not None)


def _after(cursor: int) -> Callable[[Store], list[Event]]:
    """The board read of one batch of events after `cursor`."""
    return lambda store: store.events_after(cursor, BATCH)


@dataclass(eq=False)
class Client:
    """One open event stream: where it has got to and what is waiting for it."""

    cursor: int  # the last event id this client has been sent (or chose to skip)
    published: int  # the hub's cursor when the client joined: older events come from the board
    queue: asyncio.Queue[tuple[int, bytes] | None] = field(default_factory=asyncio.Queue)


class EventHub:
    """The server's one follower of the board's events, and the clients it feeds."""

    def __init__(
        self,
        db_url: str,
        *,
        keepalive: float = KEEPALIVE,
        backlog: int = BACKLOG,
        every: float = POLL,
    ) -> None:
        self.db_url, self.keepalive, self.backlog, self.every = db_url, keepalive, backlog, every
        self.board = BoardThread(db_url, "events")
        self.closing = asyncio.Event()
        self._clients: set[Client] = set()
        self._cursor = 0  # the last event handed to the clients
        self._started: asyncio.Task[None] | None = None
        self._follower: asyncio.Task[None] | None = None

    async def subscribe(self, after: int | None) -> Client | None:
        """A new client that gets every event after `after` (None: after the newest one
        now); None once the server is stopping."""
        if self._started is None or _failed(self._started):
            self._started = asyncio.create_task(self._start(), name="events-start")
        await asyncio.shield(self._started)
        if after is None:
            after = await self.board(lambda store: store.last_event_id())
        if self.closing.is_set():
            return None
        # No await between reading the hub's cursor and joining: every event after it
        # reaches the queue, every one up to it is read from the board.
        client = Client(cursor=after, published=self._cursor)
        self._clients.add(client)
        return client

    async def stream(self, client: Client) -> AsyncIterator[bytes]:
        """The client's stream: events it missed, from the board, then each new one as
        the follower publishes it; keep-alives while quiet."""
        try:
            async for frame in self._history(client):
                yield frame
            while True:
                try:
                    async with asyncio.timeout(self.keepalive):
                        item = await client.queue.get()
                except TimeoutError:
                    yield KEEPALIVE_FRAME
                    continue
                if item is _END:
                    return
                event_id, frame = item
                if event_id > client.cursor:
                    client.cursor = event_id
                    yield frame
        finally:
            self._clients.discard(client)

    async def _history(self, client: Client) -> AsyncIterator[bytes]:
        """Events after the client's cursor up to where the follower was when it joined."""
        while client.cursor < client.published and not self.closing.is_set():
            cursor = client.cursor
            batch = await self.board(_after(cursor))
            batch = [e for e in batch if e.id is not None and e.id <= client.published]
            if not batch:
                return
            for event in batch:
                assert event.id is not None
                client.cursor = event.id
                yield event_frame(event)

    async def _start(self) -> None:
        self._cursor = await self.board(lambda store: store.last_event_id())
        self._follower = asyncio.create_task(self._follow(), name="events-follower")

    async def _follow(self) -> None:
        """Read what commits, as it commits, and publish it; forever."""
        changes = board_changes(self.db_url, self.every)  # before reading: nothing missed
        try:
            while True:
                cursor = self._cursor
                batch = await self.board(_after(cursor))
                self._publish(batch)
                if len(batch) < BATCH:
                    await anext(changes)
        except Exception:
            log.exception("the event stream's follower failed; its clients will reconnect")
            self._end_all()  # the clients reconnect and resume; a new follower starts
            self._started = None
        finally:
            await changes.aclose()

    def _publish(self, events: list[Event]) -> None:
        for event in events:
            assert event.id is not None
            self._cursor = event.id
            item = (event.id, event_frame(event))
            for client in list(self._clients):
                if client.queue.qsize() >= self.backlog:
                    self._drop(client)
                else:
                    client.queue.put_nowait(item)

    def _drop(self, client: Client) -> None:
        """End a client's stream at its next read; it resumes from the last id it got."""
        self._clients.discard(client)
        while not client.queue.empty():
            client.queue.get_nowait()
        client.queue.put_nowait(_END)

    def _end_all(self) -> None:
        for client in list(self._clients):
            self._drop(client)

    def close(self) -> None:
        """End every stream now (the server is stopping); new ones are refused."""
        self.closing.set()
        self._end_all()
        if self._follower is not None:
            self._follower.cancel()

    async def aclose(self) -> None:
        """`close`, then wait for the follower and release the board connection."""
        self.close()
        for task in (self._started, self._follower):
            if task is not None:
                with contextlib.suppress(BaseException):
                    await task
        await asyncio.to_thread(self.board.close)


# -- a card's live log -------------------------------------------------------------------


@dataclass
class LogReader:
    """What has been read of each of a card's run logs so far."""

    card_id: int
    offsets: dict[Path, int] = field(default_factory=dict)
    decoders: dict[Path, codecs.IncrementalDecoder] = field(default_factory=dict)

    def read_new(self) -> tuple[list[tuple[int, str]], bool]:
        """(run, text) for each log that grew since the last call, and whether there is
        more to read already (blocking file I/O: run it on a thread)."""
        found, more = [], False
        for path in card_logs(logs_dir(), self.card_id):
            try:
                with path.open("rb") as handle:
                    handle.seek(self.offsets.get(path, 0))
                    data = handle.read(READ_SIZE)
            except FileNotFoundError:  # removed since it was listed (`hermes board gc`)
                continue
            more = more or len(data) == READ_SIZE
            self.offsets[path] = self.offsets.get(path, 0) + len(data)
            decoder = self.decoders.setdefault(
                path, codecs.getincrementaldecoder("utf-8")(errors="replace")
            )
            text = decoder.decode(data)
            if text:
                found.append((int(path.stem.removeprefix("run-")), text))
        return found, more


async def log_stream(
    board: BoardThread, card_id: int, closing: asyncio.Event, keepalive: float
) -> AsyncIterator[bytes]:
    """A card's logs as `log` events (what is there, then each new piece), then `end`
    with the card's status once it has finished and every byte was sent."""
    reader = LogReader(card_id)
    quiet = 0.0
    while not closing.is_set():
        status = await board(lambda store: store.card(card_id).status)
        sent, more = False, True
        while more and not closing.is_set():
            pieces, more = await asyncio.to_thread(reader.read_new)
            for run, text in pieces:
                for start in range(0, len(text), LOG_PIECE):
                    data = {"run": run, "text": text[start : start + LOG_PIECE]}
                    yield named_frame("log", json.dumps(data, ensure_ascii=False))
                    sent = True
        if status in ENDED and not more:  # status read before the files: all is sent
            yield named_frame("end", status)
            return
        quiet = 0.0 if sent else quiet + LOG_POLL
        if quiet >= keepalive:
            quiet = 0.0
            yield KEEPALIVE_FRAME
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(LOG_POLL):
                await closing.wait()
