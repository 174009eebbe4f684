"""The web board in real headless Chromium, driven by Playwright, against a real
`hermes web` subprocess.

Chromium is Debian's (`/usr/bin/chromium`, installed by `.ci/run`), never a browser
Playwright downloads. Without it, or without the playwright package, the browser tests
skip and say why. Screenshots go to `$WEB_SCREENSHOTS` when set (to look at them),
else into the test's temporary folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.web.server import (
    CHROMIUM,
    CHROMIUM_ARGS,
    NO_PLAYWRIGHT,
    WebServer,
    browser_missing,
    web_server,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Locator, Page

__all__ = ["NO_PLAYWRIGHT", "SOON", "Contexts", "card", "open_board"]

DESKTOP = {"width": 1400, "height": 860}
PHONE = {"width": 390, "height": 844}
#: How long a page may take to show what the board did (a wait, not a speed check).
SOON = 20_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module.

    Not per session: Playwright's synchronous API keeps an asyncio loop running on this
    thread while it is open, and the next module in this process (xdist mixes them) may
    call `asyncio.run`, which refuses to start inside a running loop."""
    why = browser_missing()
    if why is not None:
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def web(hermes_home: Path) -> Iterator[WebServer]:
    """`hermes web` on this test's board."""
    with web_server(hermes_home) as server:
        yield server


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go."""
    folder = Path(os.environ.get("WEB_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


Contexts = Callable[..., "BrowserContext"]


@pytest.fixture
def contexts(browser: Browser) -> Iterator[Contexts]:
    """New browser contexts (desktop unless told), each failing the test on a script
    error in its pages, closed after the test."""
    made: list[tuple[BrowserContext, list[str]]] = []

    def new(**options: Any) -> BrowserContext:
        context = browser.new_context(**{"viewport": DESKTOP, **options})
        errors: list[str] = []
        context.on("page", lambda page: page.on("pageerror", lambda e: errors.append(str(e))))
        made.append((context, errors))
        return context

    yield new
    failures = [e for _, errors in made for e in errors]
    for context, _ in made:
        context.close()
    assert not failures, f"script errors in the page: {failures}"


def open_board(page: Page, url: str) -> Page:
    """Open the board at `url` and wait until its cards are shown and its event stream
    is live."""
    from playwright.sync_api import expect

    page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-loaded", "true", timeout=SOON)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=SOON)
    return page


@pytest.fixture
def board_page(contexts: Contexts, web: WebServer) -> Page:
    """The board, open on a desktop-sized page."""
    return open_board(contexts().new_page(), web.url)


def card(page: Page, card_id: int) -> Locator:
    """The card's element on the board."""
    return page.locator(f'.card[data-id="{card_id}"]')
