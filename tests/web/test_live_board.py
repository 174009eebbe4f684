"""The board page in a real browser: cards arrive from the event stream without a
reload, the form adds cards, card text is never markup, and the token flow holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli, add
from tests.web.conftest import NO_PLAYWRIGHT, SOON, Contexts, card, open_board
from tests.web.server import WebServer, web_server

pytest.importorskip("playwright", reason=NO_PLAYWRIGHT)
from playwright.sync_api import Dialog, Page, expect


def test_a_card_added_from_the_cli_appears_on_an_open_page_without_reload(
    board_page: Page, cli: Cli
) -> None:
    page = board_page
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    first = add(cli, "Write the release notes", "--profile", "shell", "--body", "echo notes")
    second = add(
        cli, "Publish them", "--profile", "shell", "--body", "echo go", "--after", str(first)
    )

    expect(card(page, first)).to_be_visible(timeout=SOON)
    expect(page.locator("#col-ready").locator(card(page, first))).to_contain_text(
        "Write the release notes"
    )
    waiting = page.locator("#col-waiting").locator(card(page, second))
    expect(waiting).to_contain_text(f"blocked by #{first}", timeout=SOON)
    expect(waiting).to_contain_text("shell")

    assert cli("board", "cancel", str(first)).code == 0  # a change moves the card
    expect(page.locator("#col-cancelled").locator(card(page, first))).to_be_visible(timeout=SOON)
    expect(page.locator("#col-cancelled .col-count")).to_have_text("1")
    assert page.evaluate("window.sameDocument") is True


def test_the_form_adds_a_card_to_the_board(board_page: Page, cli: Cli) -> None:
    page = board_page
    page.click("#add-open")
    page.fill("#add-title-input", "Rotate the logs")
    page.fill("#add-body", "logrotate -f /etc/logrotate.conf\n")
    page.fill("#add-profile", "shell")
    page.click("#add-submit")

    expect(page.locator("#add")).not_to_be_visible()
    shown = page.locator("#col-ready .card", has_text="Rotate the logs")
    expect(shown).to_be_visible(timeout=SOON)
    card_id = int(shown.get_attribute("data-id") or "0")
    stored = cli("board", "show", str(card_id), "--json").json()
    assert (stored["title"], stored["profile"], stored["source"]) == (
        "Rotate the logs",
        "shell",
        "api",
    )
    assert stored["body"] == "logrotate -f /etc/logrotate.conf\n"


def test_the_form_shows_the_apis_refusal_and_adds_nothing(board_page: Page, cli: Cli) -> None:
    page = board_page
    page.click("#add-open")
    page.fill("#add-title-input", "Something")
    page.fill("#add-profile", "no-such-profile")
    page.click("#add-submit")

    error = page.locator("#add-error")
    expect(error).to_contain_text("unknown profile 'no-such-profile'")
    expect(page.locator("#add")).to_be_visible()  # still open, to fix the field
    assert cli("board", "list", "--json", "--all").json() == []


def test_the_apis_refusals_show_in_the_banner_and_change_nothing(
    board_page: Page, cli: Cli, web: WebServer
) -> None:
    page = board_page
    page.goto(web.url + "#card-999")
    banner = page.locator("#banner")
    expect(banner).to_contain_text("999")
    expect(page.locator("#detail")).to_be_hidden()
    page.click("#banner-close")
    expect(banner).to_be_hidden()

    card_id = add(cli, "Keep notes short", "--profile", "shell", "--body", "true")
    card(page, card_id).click()
    page.fill("#comment-text", "x" * 1_100_000)
    page.click("#act-comment")
    expect(banner).to_contain_text("the limit is 1,048,576")
    expect(page.locator("#comment-text")).not_to_be_empty()  # kept, to shorten
    kinds = [e["kind"] for e in cli("board", "show", str(card_id), "--json").json()["events"]]
    assert kinds == ["created"]


def test_card_text_is_shown_as_text_never_run_as_markup(
    board_page: Page, cli: Cli, shots: Path
) -> None:
    page = board_page
    dialogs: list[str] = []

    def seen(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", seen)
    title = "<img src=x onerror=alert(1)>"
    body = "<script>alert(2)</script><b>bold?</b>"
    card_id = add(cli, title, "--profile", "shell", "--body", body)
    assert cli("board", "comment", str(card_id), "<svg onload=alert(3)>").code == 0

    shown = card(page, card_id)
    expect(shown.locator(".card-title")).to_have_text(title, timeout=SOON)
    shown.click()
    expect(page.locator("#d-title")).to_have_text(title)
    expect(page.locator("#d-body")).to_have_text(body)
    expect(page.locator("#d-events")).to_contain_text("<svg onload=alert(3)>", timeout=SOON)
    page.screenshot(path=shots / "markup-as-text.png")

    assert page.locator("img").count() == 0
    assert page.locator("#board script, #detail script, svg, b").count() == 0
    assert dialogs == []


def test_with_a_token_the_page_needs_it_once_then_keeps_it(
    contexts: Contexts, hermes_home: Path, cli: Cli
) -> None:
    token = "s3cret-for-the-page-test"
    with web_server(hermes_home, token=token) as server:
        page = contexts().new_page()
        refused = page.goto(server.url)
        assert refused is not None and refused.status == 401
        assert "token" in (refused.json() or {})["error"]
        wrong = page.goto(server.url + "?token=not-it")
        assert wrong is not None and wrong.status == 401

        open_board(page, server.url + "?token=" + token)
        assert page.url == server.url  # the token left the address bar for a cookie
        card_id = add(cli, "Behind the token", "--profile", "shell", "--body", "true")
        expect(card(page, card_id)).to_be_visible(timeout=SOON)  # the live stream too
        card(page, card_id).click()
        expect(page.locator("#d-log-state")).to_have_text("live", timeout=SOON)

        fresh = contexts().new_page()  # another browser: no cookie
        again = fresh.goto(server.url)
        assert again is not None and again.status == 401
