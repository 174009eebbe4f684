"""`/api/events`: board events pushed as they commit, from any process; resumed with
`Last-Event-ID` (or `?after=`) with exactly the events missed, in order; keep-alives on
a quiet stream; a slow client cut off and resuming; a server that stops promptly (exit
0) with streams open."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx

from board import open_store
from board.clock import utcnow
from gateway.http.events import EventHub
from tests.conftest import Cli, add
from tests.helpers.processes import wait_until
from tests.http.conftest import Stream, ThreadServer, Web, start_web


def test_an_event_committed_by_the_cli_arrives_on_an_open_stream(
    web: Web, cli: Cli, streams: list[Stream], db_url: str
) -> None:
    add(cli, "Before the stream")
    stream = Stream(f"{web.url}/api/events")
    streams.append(stream)
    assert stream.status == 200
    card = add(cli, "Made while watching")
    (event,) = stream.wait_for(1)
    with open_store(db_url) as store:
        (expected,) = store.events_after(store.last_event_id() - 1)
    assert event.json() == expected.to_feed_json()
    assert event.id == str(expected.id) and event.json()["card_id"] == card
    assert event.json()["kind"] == "created" and event.json()["data"]["to"] == "ready"
    head = httpx.head(f"{web.url}/api/events", timeout=10)
    assert head.status_code == 200 and head.headers["content-type"].startswith("text/event-stream")
    assert head.headers["cache-control"] == "no-store" and head.content == b""


def test_a_stream_resumes_with_exactly_the_events_it_missed(
    web: Web, cli: Cli, streams: list[Stream], db_url: str
) -> None:
    first = Stream(f"{web.url}/api/events")
    streams.append(first)
    card = add(cli, "Seen")
    (seen,) = first.wait_for(1)
    first.close()
    cli("board", "comment", str(card), "while away")
    cli("board", "cancel", str(card))
    add(cli, "Also missed")
    with open_store(db_url) as store:
        missed = [e.to_feed_json() for e in store.events_after(int(seen.id or 0))]
    assert len(missed) == 3
    by_header = Stream(f"{web.url}/api/events", headers={"Last-Event-ID": str(seen.id)})
    by_query = Stream(f"{web.url}/api/events?after={seen.id}")
    header_wins = Stream(
        f"{web.url}/api/events?after=0", headers={"Last-Event-ID": str(missed[1]["id"])}
    )
    streams.extend([by_header, by_query, header_wins])
    for stream in (by_header, by_query):
        assert [e.json() for e in stream.wait_for(3)] == missed
        assert [e.id for e in stream.events()] == [str(m["id"]) for m in missed]
    assert [e.json() for e in header_wins.wait_for(1)] == [missed[2]]
    live = add(cli, "Live again")
    resumed = (by_header, by_query, header_wins)
    wait_until(lambda: all(s.events()[-1].json()["card_id"] == live for s in resumed))
    assert len(by_header.events()) == len(by_query.events()) == 4  # nothing twice


def test_keep_alives_on_a_quiet_stream(hermes_home: Path, streams: list[Stream]) -> None:
    server = start_web(env={"HERMES_HTTP_KEEPALIVE": "0.2"})
    try:
        stream = Stream(f"{server.url}/api/events")
        streams.append(stream)
        wait_until(lambda: [e for e in stream.received if e.comment == "keep-alive"])
        assert stream.events() == []
    finally:
        code, _ = server.stop()
    assert code == 0


def test_a_server_with_open_streams_stops_promptly(
    hermes_home: Path, cli: Cli, streams: list[Stream]
) -> None:
    server = start_web()
    card = add(cli, "Watched", "--backlog")
    opened = [Stream(f"{server.url}/api/events") for _ in range(3)]
    opened.append(Stream(f"{server.url}/api/cards/{card}/log/stream"))
    streams.extend(opened)
    add(cli, "Seen by all")
    for stream in opened[:3]:
        stream.wait_for(1)
    asked = time.monotonic()
    code, out = server.stop(signal.SIGINT)
    took = time.monotonic() - asked
    assert code == 0, out
    assert "stopping: http" in out
    assert took < 2.5, f"hermes web took {took:.2f}s to stop with 4 streams open"
    wait_until(lambda: all(stream.ended for stream in opened), timeout=5)


def test_sigterm_stops_the_server_too(hermes_home: Path, streams: list[Stream]) -> None:
    server = start_web()
    streams.append(Stream(f"{server.url}/api/events"))
    code, out = server.stop(signal.SIGTERM)
    assert code == 0, out


def test_a_client_too_slow_to_keep_up_is_cut_off_and_resumes(db_url: str) -> None:
    """The hub's fan-out on a real board: a client whose queue is full is ended, and
    reading again from its last id gives it everything, from the board."""

    async def scenario() -> tuple[list[bytes], list[bytes], int]:
        hub = EventHub(db_url, backlog=3, every=0.01)
        try:
            slow = await hub.subscribe(None)
            assert slow is not None
            with open_store(db_url) as store:
                from board import NewCard

                for n in range(10):
                    store.add_card(NewCard(f"card {n}", "shell", 1, body="true"), utcnow())
                last = store.last_event_id()
            while hub._cursor < last:  # the follower has read all ten
                await asyncio.sleep(0.01)
            cut = [frame async for frame in hub.stream(slow)]
            again = await hub.subscribe(slow.cursor)
            assert again is not None
            frames = []
            async for frame in hub.stream(again):
                frames.append(frame)
                if len(frames) == 10:
                    break
            return cut, frames, last
        finally:
            await hub.aclose()

    cut, frames, last = asyncio.run(scenario())
    assert cut == []  # ended at once, nothing half-sent
    ids = [int(frame.split(b"\n", 1)[0].removeprefix(b"id: ")) for frame in frames]
    assert ids == list(range(last - 9, last + 1))


def test_streams_through_the_service_in_a_thread(db_url: str, streams: list[Stream]) -> None:
    """The same stream on `serve` run inside `hermes up`-style supervision: cancelling
    the service ends its streams."""
    with ThreadServer(db_url, keepalive=0.1) as server:
        stream = Stream(f"{server.url}/api/events")
        streams.append(stream)
        made = httpx.post(
            f"{server.url}/api/cards",
            json={"title": "In process", "profile": "shell", "body": "true"},
        )
        assert made.status_code == 201
        (event,) = stream.wait_for(1)
        assert event.json()["card_id"] == made.json()["id"]
        wait_until(lambda: any(e.comment == "keep-alive" for e in stream.received))
    wait_until(lambda: stream.ended, timeout=5)
