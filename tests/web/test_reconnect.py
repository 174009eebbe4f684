"""The page outlives its server: it says it is reconnecting while the server is away,
and once it is back it shows what happened meanwhile, without a reload."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import Cli, add
from tests.web.conftest import NO_PLAYWRIGHT, SOON, Contexts, card, open_board
from tests.web.server import web_server

pytest.importorskip("playwright", reason=NO_PLAYWRIGHT)
from playwright.sync_api import expect


def test_the_page_reconnects_and_catches_up_after_the_server_restarts(
    contexts: Contexts, hermes_home: Path, cli: Cli
) -> None:
    before = add(cli, "Before the restart", "--profile", "shell", "--body", "true")
    page = contexts().new_page()
    with web_server(hermes_home) as server:
        open_board(page, server.url)
        expect(card(page, before)).to_be_visible()
        page.evaluate("window.sameDocument = true")
    port = urlsplit(server.url).port

    conn = page.locator("#conn")
    expect(conn).not_to_have_attribute("data-state", "live", timeout=SOON)
    expect(page.locator("#conn-text")).to_contain_text("reconnecting")
    during = add(cli, "While the server was away", "--profile", "shell", "--body", "true")
    assert cli("board", "cancel", str(before)).code == 0

    with web_server(hermes_home, port=port):
        expect(conn).to_have_attribute("data-state", "live", timeout=SOON)
        expect(card(page, during)).to_be_visible(timeout=SOON)
        cancelled = page.locator("#col-cancelled").locator(card(page, before))
        expect(cancelled).to_be_visible(timeout=SOON)
        seen = add(cli, "Seen live", "--profile", "shell", "--body", "true")
        expect(card(page, seen)).to_be_visible(timeout=SOON)  # the stream has an event id now

    expect(conn).not_to_have_attribute("data-state", "live", timeout=SOON)
    later = add(cli, "Added while away again", "--profile", "shell", "--body", "true")
    with web_server(hermes_home, port=port):  # resumes after the last event id it saw
        expect(card(page, later)).to_be_visible(timeout=SOON)
        expect(conn).to_have_attribute("data-state", "live")
    assert page.evaluate("window.sameDocument") is True
