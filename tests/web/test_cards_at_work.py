"""The page while cards are worked by a real dispatcher: a paused agent card approved,
rejected or answered from its detail, and a running card's log growing in the detail."""

from __future__ import annotations

from pathlib import Path

import pytest

from board import open_store
from tests.conftest import Cli, add
from tests.helpers.agents import (
    KEY_ENV,
    add_card,
    agent_profile,
    approvals_script,
    serve,
    tool_results,
)
from tests.helpers.processes import FAST, dispatcher, local_shell
from tests.web.conftest import NO_PLAYWRIGHT, SOON, card
from workers.agent.fake_openai import FakeOpenAI

pytest.importorskip("playwright", reason=NO_PLAYWRIGHT)
from playwright.sync_api import Page, expect

#: An agent's turn through the real dispatcher, worker and litellm takes seconds.
WORKED = 60_000


@pytest.fixture(autouse=True)
def model_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")


def open_card(page: Page, card_id: int) -> None:
    """Open a card's detail by clicking it on the board (closing any other first)."""
    if page.locator("#detail").is_visible():
        page.click("#detail-close")
    card(page, card_id).click()
    expect(page.locator("#d-id")).to_have_text(f"#{card_id}")


def test_approve_reject_and_reply_from_the_page_resume_paused_agent_cards(
    board_page: Page, cli: Cli, model: list[FakeOpenAI], hermes_home: Path, db_url: str, shots: Path
) -> None:
    page = board_page
    server = serve(
        model,
        approvals_script(
            "git push -f origin release",
            "Which region, eu or us?",
            "Left the release branch alone.",
        ),
    )
    agent_profile(hermes_home, "ops", server.url)
    push = add_card(cli, "Push it", "--profile", "ops", "--no-repo")
    release = add_card(cli, "Push the release", "--profile", "ops", "--no-repo")
    ask = add_card(cli, "Pick a region", "--profile", "ops", "--no-repo")

    with dispatcher(*FAST, "--lease", "10"):
        for card_id in (push, release, ask):
            paused = page.locator("#col-needs_input").locator(card(page, card_id))
            expect(paused).to_be_visible(timeout=WORKED)

        open_card(page, push)
        expect(page.locator("#d-request-command")).to_have_text("git push --force origin main")
        expect(page.locator("#d-request-risk")).to_have_text("high risk")
        expect(page.locator("#d-request-text")).to_contain_text("force push")
        expect(page.locator("#act-reply")).to_be_hidden()
        page.screenshot(path=shots / "approval-desktop.png")
        page.click("#act-approve")
        expect(page.locator("#d-status")).to_have_text("done", timeout=WORKED)
        expect(page.locator("#d-log")).to_contain_text("Pushed (or tried to).", timeout=SOON)

        open_card(page, release)
        expect(page.locator("#d-request-command")).to_have_text("git push -f origin release")
        page.fill("#reject-reason", "not on a Friday")
        page.click("#act-reject")
        expect(page.locator("#d-status")).to_have_text("done", timeout=WORKED)

        open_card(page, ask)
        expect(page.locator("#d-request-text")).to_have_text("Which region, eu or us?")
        expect(page.locator("#act-approve")).to_be_hidden()
        page.fill("#reply-text", "eu-west")
        page.click("#act-reply")
        expect(page.locator("#d-status")).to_have_text("done", timeout=WORKED)
        expect(page.locator("#col-done .card")).to_have_count(3)

    with open_store(db_url) as store:
        answers = {
            c: [(e.kind, e.actor, e.data) for e in store.detail(c).events if e.kind.endswith("ed")]
            for c in (push, release, ask)
        }
    assert ("approved", "api", {"from": "needs_input", "to": "running"}) in answers[push]
    told = {r["messages"][1]["content"].split("\n")[0]: tool_results(r) for r in server.requests}
    assert told[f"# Card {release}: Push the release"][-1] == "rejected by a human: not on a Friday"
    assert told[f"# Card {ask}: Pick a region"][-1] == "eu-west"
    assert told[f"# Card {push}: Push it"][-1].startswith("exit code")


def test_the_detail_log_grows_while_a_shell_card_runs(
    board_page: Page, cli: Cli, hermes_home: Path, tmp_path: Path, shots: Path
) -> None:
    page = board_page
    gate = tmp_path / "gate"
    body = (
        "for i in 1 2 3; do echo line-$i; sleep 0.3; done\n"
        f"while [ ! -e '{gate}' ]; do sleep 0.05; done\n"
        "echo after-the-gate\n"
    )
    card_id = add(cli, "Count slowly", "--profile", local_shell(hermes_home), "--body", body)
    open_card(page, card_id)
    log = page.locator("#d-log")
    expect(page.locator("#d-log-state")).to_have_text("live", timeout=SOON)

    with dispatcher(*FAST):
        expect(log).to_contain_text("line-1", timeout=WORKED)
        expect(log).to_contain_text("line-3", timeout=SOON)
        expect(page.locator("#d-status")).to_have_text("running")
        so_far = log.text_content() or ""
        assert "after-the-gate" not in so_far  # the card is still at work: the log grew live
        page.screenshot(path=shots / "log-running-desktop.png")
        gate.touch()
        expect(log).to_contain_text("after-the-gate", timeout=SOON)
        expect(page.locator("#d-log-state")).to_have_text("ended: done", timeout=SOON)
    text = log.text_content() or ""
    assert text.index("line-1") < text.index("line-3") < text.index("after-the-gate")
    assert text.count("line-1") == 1  # nothing sent twice
