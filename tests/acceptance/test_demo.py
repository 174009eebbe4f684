"""`hermes demo` on its own: offline, fresh repository and board, every card done."""

from __future__ import annotations

import re
import time
from pathlib import Path

from board import CardFilter, open_store
from board.clock import utcnow
from tests.conftest import Cli
from tests.helpers.processes import git


def test_demo_runs_the_graph_live_and_says_where_everything_is(
    cli: Cli, tmp_path: Path, hermes_home: Path
) -> None:
    started = time.monotonic()
    result = cli("demo", TMPDIR=str(tmp_path))
    took = time.monotonic() - started
    assert result.code == 0, result.out + result.err
    assert "6 of 6 cards done" in result.out
    assert took < 30
    root = Path(re.search(r"rm -rf (\S+)", result.out)[1])  # type: ignore[index]
    assert root.parent == tmp_path
    repo, home = root / "stats", root / "home"
    assert git(repo, "branch", "--show-current") == "main"
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "ls-tree", "--name-only", "main").split() == ["README.md"]
    assert "report.md" in git(repo, "ls-tree", "-r", "--name-only", "hermes/card-6").split()
    with open_store(f"sqlite:///{home / 'board.db'}") as store:
        cards = store.list_cards(CardFilter(include_old=True), utcnow())
    assert [card.status for card in cards] == ["done"] * 6
    assert "mean" in (cards[4].result or "")
    assert not (hermes_home / "board.db").exists()  # the user's own board was not touched
