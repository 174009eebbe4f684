"""`board merge` says what it did (merged, nothing to merge, already merged) and merges a
goal's cards as one unit; `board gc` tidies lock files and, asked, merged branches;
`board log` shows what a paused card waits for; `--json` on all three."""

from __future__ import annotations

from pathlib import Path

import pytest

from board import NewCard, open_store
from board.clock import utcnow
from tests.acceptance.test_worktrees import add_in, run_until_idle
from tests.conftest import Cli
from tests.helpers.processes import git, make_repo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "project", {"README.md": "# project\n"})


def merged_events(db_url: str, card: int) -> int:
    with open_store(db_url) as store:
        return sum(1 for e in store.detail(card).events if e.kind == "merged")


def test_merge_says_merged_then_already_merged_and_records_it_once(
    cli: Cli, repo: Path, db_url: str
) -> None:
    card = add_in(cli, repo, "feature", "echo feature > feature.txt")
    idle = add_in(cli, repo, "look only", "ls > /dev/null")
    run_until_idle()
    first = cli("board", "merge", str(card))
    assert first.code == 0 and first.out.startswith(f"merged hermes/card-{card} into main (")
    again = cli("board", "merge", str(card))
    assert again.code == 0
    assert again.out == f"already merged: main has every commit of hermes/card-{card}\n"
    assert merged_events(db_url, card) == 1
    nothing = cli("board", "merge", str(idle), "--json")
    assert nothing.code == 0
    (step,) = nothing.json()["merged"]
    assert step["result"] == "nothing to merge" and step["card"] == idle
    assert merged_events(db_url, idle) == 0


def test_merging_a_goal_merges_its_done_cards_in_dependency_order(
    cli: Cli, repo: Path, db_url: str
) -> None:
    with open_store(db_url) as store:
        now = utcnow()
        where = {"repo": str(repo), "base": "main"}
        goal, _ = store.add_card(
            NewCard("Ship it", "planner", 1, labels=["goal"], budget=3, backlog=True, **where),
            now,
        )

        def child(title: str, body: str, *after: int) -> int:
            card = NewCard(title, "shell", 1, body=body, parent_id=goal, after=list(after), **where)
            return store.add_card(card, now)[0]

        first = child("first", "echo 1 > one.txt")
        second = child("second", "cat one.txt > two.txt", first)
        third = child("third", "echo 3 > three.txt")
        broken = child("broken", "exit 3")
    run_until_idle()
    result = cli("board", "merge", str(goal), "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert [s["card"] for s in report["merged"]] == [first, second, third]
    assert {s["result"] for s in report["merged"]} == {"merged"}
    assert report["skipped"] == [broken]
    assert git(repo, "show", "main:two.txt") == "1" and git(repo, "show", "main:three.txt") == "3"
    shown = cli("board", "merge", str(goal))  # again: everything is in already
    assert shown.out.count("already merged") == 3 and f"card {broken}" in shown.out


def test_gc_removes_lock_files_and_with_branches_the_merged_branches(
    cli: Cli, repo: Path, hermes_home: Path
) -> None:
    merged = add_in(cli, repo, "merged", "echo m > m.txt")
    unmerged = add_in(cli, repo, "unmerged", "echo u > u.txt")
    scratch = cli("board", "add", "scratch", "--no-repo", "--profile", "shell", "--body", "true")
    run_until_idle()
    assert cli("board", "merge", str(merged)).code == 0
    locks = list(hermes_home.rglob("card-*.lock"))
    assert len(locks) == 3
    result = cli("board", "gc", "--branches", "--json")
    assert result.code == 0, result.err
    assert len(result.json()["removed"]) == 3
    assert result.json()["deleted_branches"] == [f"hermes/card-{merged}"]
    assert list(hermes_home.rglob("card-*.lock")) == []
    branches = git(repo, "branch", "--list", "hermes/*")
    assert f"hermes/card-{unmerged}" in branches and f"hermes/card-{merged}" not in branches
    assert scratch.code == 0
    again = cli("board", "gc")
    assert again.out == "removed 0 workspaces of finished cards; their branches stay\n"


def test_log_shows_what_a_paused_card_waits_for(cli: Cli, db_url: str) -> None:
    with open_store(db_url) as store:
        card, _ = store.add_card(NewCard("deploy", "shell", 1, body="true"), utcnow())
        claim = store.claim(utcnow(), 600)
        assert claim is not None
        request = {"kind": "approval", "command": "make deploy", "risk": "high", "reason": "deploy"}
        store.pause(claim.run_id, utcnow(), request)
    shown = cli("board", "log", str(card))
    assert shown.code == 0
    assert f"[waiting] card {card} waits for approval to run: make deploy (high risk: deploy)" in (
        shown.out
    )
    assert f"`hermes board approve {card}`" in shown.out
    as_json = cli("board", "log", str(card), "--json")
    assert as_json.json() == {"card": card, "runs": [], "waiting_for": request}
    both = cli("board", "log", str(card), "--json", "--follow")
    assert both.code == 2 and both.err.startswith("error: --json prints the log as it is now")
