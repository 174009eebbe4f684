"""`hermes demo` on its own: offline, fresh repository and board, every card done; and
what it says when Ctrl-C stops it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from board import CardFilter, open_store
from board.clock import utcnow
from tests.conftest import Cli
from tests.helpers.processes import git, wait_until


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


def test_an_interrupted_demo_says_so_and_what_is_left(tmp_path: Path) -> None:
    """Ctrl-C midway: no success-shaped summary, no merge to suggest (nothing is done at
    the end of the graph), the state of the cards and how to finish or clean up."""
    with subprocess.Popen(
        [sys.executable, "-m", "hermes", "demo"],
        env={**os.environ, "TMPDIR": str(tmp_path), "COLUMNS": "120"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        board = wait_until(lambda: next(tmp_path.glob("hermes-demo-*/home/board.db"), None))
        wait_until(lambda: _done(board) >= 1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    summary = out.split("interrupted after", 1)[1]
    assert re.match(r" [\d.]+s: \d of 6 cards done \(", summary), summary
    assert "board merge" not in summary and "cards done in" not in out
    home = board.parent
    assert f"HERMES_HOME={home} " in summary and "dispatcher start --until-idle" in summary
    assert f"rm -rf {home.parent}" in summary
    assert _done(board) < 6 and "Traceback" not in err


def _done(board: Path) -> int:
    with open_store(f"sqlite:///{board}") as store:
        cards = store.list_cards(CardFilter(include_old=True), utcnow())
    return sum(card.status == "done" for card in cards)
