"""Goals on the page: added from the form, their cards (and theirs) drawn as a tree in
the goal's detail as the planner adds them, each child marked on its card."""

from __future__ import annotations

from pathlib import Path

import pytest

from board import Store
from board.clock import utcnow
from hermes.intake import CardRequest, add_card
from tests.conftest import Cli
from tests.web.conftest import NO_PLAYWRIGHT, SOON, card

pytest.importorskip("playwright", reason=NO_PLAYWRIGHT)
from playwright.sync_api import Page, expect


def planned(store: Store, title: str, parent: int) -> int:
    """A card added for a goal the way its planner adds one (through intake)."""
    request = CardRequest(
        title=title, profile="shell", body="true", no_repo=True, parent_id=parent, source="planner"
    )
    card_id, _ = add_card(store, request, utcnow())
    return card_id


def test_a_goal_from_the_form_shows_its_cards_as_a_tree(
    board_page: Page, cli: Cli, store: Store, shots: Path
) -> None:
    page = board_page
    page.click("#add-open")
    page.fill("#add-title-input", "Ship the new login page")
    page.check("#add-goal")
    page.click("#add-submit")
    shown = page.locator(".card.is-goal", has_text="Ship the new login page")
    expect(shown).to_be_visible(timeout=SOON)
    goal = int(shown.get_attribute("data-id") or "0")
    assert cli("goal", "status", str(goal), "--json").json()["goal"]["labels"] == ["goal"]

    shown.click()
    tree = page.locator("#d-goal-tree")
    expect(tree).to_contain_text("no cards planned yet", timeout=SOON)
    design = planned(store, "Design the form", goal)
    build = planned(store, "Build the form", goal)
    review = planned(store, "Review the copy", design)

    expect(tree.locator(":scope > li")).to_have_count(2, timeout=SOON)
    expect(tree).to_contain_text(f"#{design} Design the form")
    expect(tree).to_contain_text(f"#{build} Build the form")
    nested = tree.locator(":scope > li", has_text="Design the form").locator("ul > li")
    expect(nested).to_have_text(f"ready #{review} Review the copy", timeout=SOON)
    expect(page.locator("#d-goal-summary")).to_contain_text("2 cards")
    page.screenshot(path=shots / "goal-tree.png")

    page.click("#detail-close")
    expect(card(page, build).locator(".tag.child")).to_have_text(f"↳ goal #{goal}")
