"""Web board benchmark: how long the page takes to show a board of 1,000 cards in
headless Chromium, from navigation to the frame that has drawn every card (the page
marks it, `board-rendered`, once the frame after building the columns has run), p50 over
a few loads of a real `hermes web` server.

It is reported beside the bare `GET /api/cards` of the same cards from Python in the
same run, the least any client does (one request for the list), so the ratio is what
the browser, the page's own files and requests and drawing 1,000 cards cost on top. A
second row splits off the drawing: from the list's arrival in the page to the drawn
frame, beside that same list's fetch as the page timed it. Skipped, with a note, when
Chromium or playwright is missing. Run with `python -m bench web`.
"""

from __future__ import annotations

import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import Row, Size, median, pick
from board import NewCard, open_store
from board.clock import utcnow
from tests.web.server import CHROMIUM, CHROMIUM_ARGS, browser_missing, web_server

SECTION = "web"
MARK = "board-rendered"
#: Read in the page once it is drawn: the mark, and the list request's own timing.
TIMINGS = """(mark) => {
  const list = performance.getEntriesByType("resource").find((e) => e.name.endsWith("/api/cards"));
  return {
    drawn: performance.getEntriesByName(mark)[0].startTime,
    asked: list.requestStart || list.startTime,
    arrived: list.responseEnd,
  };
}"""


@dataclass(frozen=True, slots=True)
class Load:
    """One page load, in seconds from navigation: the frame with every card, and when
    the card list's request was sent and its answer arrived."""

    drawn: float
    asked: float
    arrived: float


def run(workdir: Path, size: Size) -> list[Row]:
    """The page-load figures next to their references."""
    why = browser_missing()
    if why is not None:
        print(f"web: skipped: {why}", file=sys.stderr)
        return []
    cards = pick(size, 200, 1000, 1000)
    count = pick(size, 2, 5, 9)
    home = workdir / "home"
    home.mkdir()
    fill_board(f"sqlite:///{home / 'board.db'}", cards)
    with web_server(home) as server:
        fetches = [fetch_seconds(server.url + "api/cards") for _ in range(count + 1)][1:]
        loads = page_loads(server.url, cards, count)
    note = f"{count} loads in Chromium"
    return [
        Row(
            SECTION,
            f"page load -> {cards:,} cards drawn, p50",
            median([load.drawn for load in loads]) * 1e3,
            "ms",
            median(fetches) * 1e3,
            f"GET /api/cards of the same {cards:,} cards from Python, p50",
            note,
        ),
        Row(
            SECTION,
            f"list arrived -> {cards:,} cards drawn, p50",
            median([load.drawn - load.arrived for load in loads]) * 1e3,
            "ms",
            median([load.arrived - load.asked for load in loads]) * 1e3,
            "the same list's request in the page, p50",
            note,
        ),
    ]


def fill_board(db_url: str, cards: int) -> None:
    """`cards` cards spread over the columns: most ready, some waiting on an earlier
    card, some parked in the backlog, some cancelled."""
    store = open_store(db_url)
    try:
        for n in range(1, cards + 1):
            card = NewCard(
                f"card {n}: tidy up module {n % 37}",
                "shell",
                3,
                body=f"echo {n}",
                priority=n % 5,
                after=[n - 1] if n % 7 == 0 else [],
                backlog=n % 10 == 0,
            )
            card_id, _ = store.add_card(card, utcnow())
            if n % 13 == 0:
                store.cancel(card_id, utcnow(), "bench")
    finally:
        store.close()


def fetch_seconds(url: str) -> float:
    """One GET of the list, read to the end (a new connection, as a page load makes)."""
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as answer:
        answer.read()
    return time.perf_counter() - start


def page_loads(url: str, cards: int, count: int) -> list[Load]:
    """`count` loads of the page, each until every card is drawn (after one to warm the
    server and the browser's cache of the page's files)."""
    from playwright.sync_api import sync_playwright

    loads = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 860})
            for n in range(count + 1):
                timings = load_once(context, url, cards)
                if n:
                    loads.append(Load(**{k: v / 1e3 for k, v in timings.items()}))
            context.close()
        finally:
            browser.close()
    return loads


def load_once(context: Any, url: str, cards: int) -> dict[str, float]:
    """Open the page in a new tab; the page's own timings (ms from navigation)."""
    page = context.new_page()
    try:
        page.goto(url)
        # Functions, not strings: the page's policy forbids evaluating strings.
        page.wait_for_function(
            """([mark, cards]) => performance.getEntriesByName(mark).length > 0
                && document.querySelectorAll('.card').length >= cards""",
            arg=[MARK, cards],
            timeout=60_000,
        )
        timings: dict[str, float] = page.evaluate(TIMINGS, MARK)
        return timings
    finally:
        page.close()
