"""The board on a phone-sized screen (390x844, touch): nothing wider than the screen, the
add form and a card's detail usable with a thumb."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli, add
from tests.web.conftest import NO_PLAYWRIGHT, PHONE, SOON, Contexts, card, open_board
from tests.web.server import WebServer

pytest.importorskip("playwright", reason=NO_PLAYWRIGHT)
from playwright.sync_api import Page, expect

#: The smallest comfortable touch target, in CSS pixels (Apple and Material say 44-48).
TOUCH = 44


def overflow(page: Page) -> int:
    """How far the document is wider than the screen (0: not at all)."""
    width: int = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return width


def small_buttons(page: Page, scope: str) -> list[str]:
    """Visible buttons under `scope` smaller than a fingertip."""
    found: list[str] = page.evaluate(
        """([scope, least]) => [...document.querySelectorAll(scope + ' button')]
            .filter((b) => b.offsetParent !== null)
            .filter((b) => b.getBoundingClientRect().height < least)
            .map((b) => b.id || b.textContent)""",
        [scope, TOUCH],
    )
    return found


def test_on_a_phone_the_board_the_form_and_a_detail_are_usable(
    contexts: Contexts, web: WebServer, cli: Cli, shots: Path
) -> None:
    long_word = "https://example.com/" + "a-very-long-path-segment/" * 8
    first = add(cli, "Renew the TLS certificate before Friday", "--body", "renew it")
    add(cli, long_word, "--body", "one word longer than the screen", "--after", str(first))
    add(cli, "Archive last month's logs", "--profile", "shell", "--body", "echo done")
    context = contexts(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    page = open_board(context.new_page(), web.url)

    assert overflow(page) == 0
    assert small_buttons(page, ".top") == []
    page.screenshot(path=shots / "phone-board.png")

    page.tap("#add-open")
    form = page.locator("#add")
    expect(form).to_be_visible()
    box = form.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert small_buttons(page, "#add") == []
    page.fill("#add-title-input", "Added on the phone")
    page.fill("#add-body", "from a thumb")
    page.screenshot(path=shots / "phone-add.png")
    page.tap("#add-submit")
    added = page.locator(".card", has_text="Added on the phone")
    expect(added).to_be_visible(timeout=SOON)
    assert overflow(page) == 0

    card(page, first).tap()
    detail = page.locator("#detail")
    expect(page.locator("#d-title")).to_have_text("Renew the TLS certificate before Friday")
    box = detail.bounding_box()
    assert box == {"x": 0, "y": 0, "width": PHONE["width"], "height": PHONE["height"]}
    assert small_buttons(page, "#detail") == []
    page.fill("#comment-text", "done from the phone")
    page.tap("#act-comment")
    expect(page.locator("#d-events")).to_contain_text("done from the phone", timeout=SOON)
    assert overflow(page) == 0
    page.screenshot(path=shots / "phone-detail.png")

    page.tap("#detail-close")
    expect(detail).to_be_hidden()
    assert page.url == web.url  # the card's address went with it
    comments = [e for e in cli("board", "show", str(first), "--json").json()["events"]]
    assert ("comment", "api") in [(e["kind"], e["actor"]) for e in comments]
