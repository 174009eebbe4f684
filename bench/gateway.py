"""Chat gateway benchmarks, through python-telegram-bot and the fake Telegram server on
loopback: how long a message takes to become a card and be answered (the fake's clock,
from the update it queued to the acknowledgement it received), and how soon a chat
hears that its card is done (from the board's commit to the message's arrival).

The first is reported beside a bare HTTP round trip to the same fake in the same run
(the floor of one request); the second beside the board's change-detection poll (the
setting that wakes the notifier). Goal for both: p99 under 100 ms. Run with
`python -m bench gateway`.
"""

from __future__ import annotations

import asyncio
import os
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import TypeVar

from bench.common import Row, Size, latency_rows, pick
from board import Store, open_store
from board.clock import utcnow
from gateway.chat.service import serve
from gateway.chat.telegram import TelegramPlatform
from tests.gateway.fake_telegram import FakeTelegram

SECTION = "gateway"
POLL_MS = 20.0  # board.changes.POLL
ALICE = 111
GOAL = "goal: p99 under 100 ms"
T = TypeVar("T")


def run(workdir: Path, size: Size) -> list[Row]:
    """Both gateway figures, each next to its reference."""
    samples = pick(size, 5, 30, 200)
    home = workdir / "home"
    home.mkdir()
    db_url = f"sqlite:///{home / 'board.db'}"
    with hermes_home(home), FakeTelegram() as tg:
        round_trips = [round_trip(tg) for _ in range(samples)]
        acks, dones = asyncio.run(measure(tg, db_url, samples))
    bare = "a bare HTTP round trip to the Telegram fake (getMe), same percentile"
    poll = "the board's change-detection poll (setting)"
    ack, done = "telegram: message -> card -> ack sent", "telegram: card done -> chat notified"
    return [
        *latency_rows(SECTION, ack, acks, round_trips, bare, GOAL),
        *latency_rows(SECTION, done, dones, POLL_MS, poll, GOAL),
    ]


@contextmanager
def hermes_home(home: Path) -> Iterator[None]:
    """The gateway reads profiles and settings from HERMES_HOME, in this process."""
    old = os.environ.get("HERMES_HOME")
    os.environ["HERMES_HOME"] = str(home)
    try:
        yield
    finally:
        if old is None:
            del os.environ["HERMES_HOME"]
        else:
            os.environ["HERMES_HOME"] = old


def round_trip(tg: FakeTelegram) -> float:
    """Seconds for one getMe to the fake, connection included (as a poll's answer and a
    send are, each on its own request)."""
    start = time.perf_counter()
    with urllib.request.urlopen(f"{tg.api_base}/bot{tg.token}/getMe", timeout=10) as answer:
        answer.read()
    return time.perf_counter() - start


async def measure(tg: FakeTelegram, db_url: str, samples: int) -> tuple[list[float], list[float]]:
    """(message -> ack, done -> notified) seconds, `samples` of each, with the gateway
    (Telegram adapter, conversation, notifier) running in this event loop."""
    platform = TelegramPlatform(tg.token, api_base=tg.api_base)
    section = SimpleNamespace(allow=[ALICE], profile="shell", repo=None)
    service = asyncio.create_task(serve(platform, section, db_url))
    try:
        await arrived(lambda: True if platform.connected else None)
        for n in range(2):  # warm up: first imports, first statements
            await ack(tg, f"echo warm-up {n}")
        acks = [await ack(tg, f"echo card {n}") for n in range(samples)]
        store = open_store(db_url)
        try:
            dones = [await done(tg, store) for _ in range(samples)]
        finally:
            store.close()
        return acks, dones
    finally:
        service.cancel()
        await asyncio.gather(service, return_exceptions=True)


async def ack(tg: FakeTelegram, text: str) -> float:
    """A user writes; seconds until the fake has the bot's answer to that message."""
    message = tg.say(ALICE, ALICE, text)
    sent = await arrived(lambda: next((s for s in tg.sent if s.reply_to == message), None))
    return sent.at - tg.said[message]


async def done(tg: FakeTelegram, store: Store) -> float:
    """A card of the chat is claimed and completed; seconds from the call that commits
    its completion to the arrival of `card N done` at the fake."""
    claim = await asyncio.to_thread(store.claim, utcnow(), 60)
    assert claim is not None, "no card to complete"
    start = time.perf_counter()
    await asyncio.to_thread(store.complete, claim.run_id, utcnow(), result="ok")
    prefix = f"card {claim.card_id} done"
    sent = await arrived(lambda: next((s for s in tg.sent if s.text.startswith(prefix)), None))
    return sent.at - start


async def arrived(check: Callable[[], T | None], timeout: float = 30) -> T:
    """Poll `check` every millisecond (the fake's clock times the figures, not this)."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the gateway benchmark gave up after {timeout:g}s")
        await asyncio.sleep(0.001)
    return found
