"""Editing a card, archiving finished ones, a card's diff and a shell in its worktree,
a card's own model, removing a skill and adding one by its SKILL.md."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from board import NewCard, open_store
from board.clock import utcnow
from tests.acceptance.test_worktrees import add_in, run_until_idle
from tests.conftest import Cli, add
from tests.helpers.agents import KEY_ENV, add_card, agent_profile, serve
from tests.helpers.processes import FAST, finish, git, make_repo, start_dispatcher
from workers.agent.fake_openai import FakeOpenAI


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "project", {"README.md": "# project\n"})


def test_edit_changes_what_a_card_says_and_records_it(cli: Cli, db_url: str) -> None:
    card = add(cli, "Old title", "--profile", "shell", "--body", "echo old", "--backlog")
    changed = cli(
        "board", "edit", str(card), "--title", "New title", "--body", "echo new",
        "--priority", "5", "--label", "a", "--label", "b", "--json",
    )  # fmt: skip
    assert changed.code == 0, changed.err
    shown = changed.json()
    assert (shown["title"], shown["body"], shown["priority"], shown["labels"]) == (
        "New title", "echo new", 5, ["a", "b"],
    )  # fmt: skip
    assert shown["changed"] == ["title", "body", "priority", "labels"]
    same = cli("board", "edit", str(card), "--title", "New title")
    assert same.out == f"card {card}: no change\n"
    assert cli("board", "edit", str(card), "--no-labels").out == f"card {card}: changed labels\n"
    with open_store(db_url) as store:
        edits = [e.data for e in store.detail(card).events if e.kind == "edited"]
    assert edits[0]["fields"]["title"] == "New title" and edits[-1]["fields"] == {"labels": []}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "nope"], "unknown profile 'nope'"),
        (["--body", " "], "the card would have no body, and profile 'shell' runs its body"),
        (["--model", "openai/x"], "profile 'shell' runs command cards, which call no model"),
        (["--title", " "], "the title is empty"),
        ([], "nothing to change; give --title"),
        (["--label", "x", "--no-labels"], "give --label or --no-labels, not both"),
        (["--priority", "2000000000"], "--priority 2000000000 must be between"),
    ],
)
def test_bad_edits_are_refused_and_change_nothing(
    cli: Cli, db_url: str, args: list[str], message: str
) -> None:
    card = add(cli, "Title", "--profile", "shell", "--body", "true", "--backlog")
    before = cli("board", "show", str(card), "--json").json()
    result = cli("board", "edit", str(card), *args)
    assert result.code == 2 and message in result.err, result.err
    assert cli("board", "show", str(card), "--json").json() == before


def test_a_card_a_worker_holds_cannot_be_edited(cli: Cli, db_url: str) -> None:
    with open_store(db_url) as store:
        card, _ = store.add_card(NewCard("busy", "shell", 1, body="true"), utcnow())
        assert store.claim(utcnow(), 600) is not None
    result = cli("board", "edit", str(card), "--title", "other")
    assert result.code == 2
    assert f"card {card} is running: a worker holds it; edit it once it stops" in result.err


def test_archive_puts_finished_cards_away_and_keeps_their_history(cli: Cli, db_url: str) -> None:
    done = add(cli, "finished", "--profile", "shell", "--body", "true")
    waiting = add(cli, "not yet", "--profile", "shell", "--body", "true", "--backlog")
    code, out = finish(start_dispatcher("--until-idle", *FAST))
    assert code == 0, out
    refused = cli("board", "archive", str(waiting))
    assert refused.code == 2 and "only finished cards" in refused.err
    assert cli("board", "archive", str(done)).out == f"archived 1 card: {done}\n"
    listed = [c["id"] for c in cli("board", "list", "--all", "--json").json()]
    assert done not in listed and waiting in listed
    assert cli("board", "show", str(done), "--json").json()["archived_at"] is not None
    assert cli("board", "archive", str(done)).out == "archived 0 cards\n"  # already
    assert [c["id"] for c in cli("board", "list", "--archived", "--json").json()] == [done]
    back = cli("board", "archive", str(done), "--undo", "--json")
    assert back.json() == {"unarchived": [done]}
    assert done in [c["id"] for c in cli("board", "list", "--all", "--json").json()]


def test_diff_and_open_show_a_cards_work(cli: Cli, repo: Path, tmp_path: Path) -> None:
    card = add_in(cli, repo, "feature", "echo feature > feature.txt")
    run_until_idle()
    stat = cli("board", "diff", str(card), "--stat")
    assert stat.code == 0 and "feature.txt | 1 +" in stat.out
    assert "+feature" in cli("board", "diff", str(card)).out
    path = cli("board", "open", str(card), "--print").out.strip()
    assert Path(path).name == f"card-{card}" and (Path(path) / "feature.txt").exists()
    (Path(path) / ".git").write_text("gitdir: /somewhere/else\n")  # as card work could
    shell = tmp_path / "shell.sh"
    shell.write_text('#!/bin/sh\npwd > "$OUT"; git rev-parse --abbrev-ref HEAD >> "$OUT"; exit 7\n')
    shell.chmod(0o755)
    out = tmp_path / "out.txt"
    opened = cli("board", "open", str(card), SHELL=str(shell), OUT=str(out))
    assert opened.code == 7
    assert out.read_text().splitlines() == [path, f"hermes/card-{card}"]
    assert git(repo, "status", "--porcelain") == ""
    nothing = cli("board", "open", str(add(cli, "never ran", "--profile", "shell", "--body", "x")))
    assert nothing.code == 2 and "has no workspace to open: it has not run yet" in nothing.err


def test_a_card_can_name_its_own_model(
    cli: Cli, model: list[FakeOpenAI], hermes_home: Path, db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv(KEY_ENV, "sk-test")
    server = serve(model, [{"text": "done"}])
    agent_profile(hermes_home, "bot", server.url)
    card = add_card(
        cli, "Use another model", "--profile", "bot", "--model", "openai/other-model", "--no-repo"
    )
    assert cli("board", "show", str(card), "--json").json()["model"] == "openai/other-model"
    code, out = finish(start_dispatcher("--until-idle", *FAST))
    assert code == 0, out
    assert server.requests[0]["model"] == "other-model"
    refused = cli("board", "add", "x", "--profile", "shell", "--body", "true", "--model", "m/x")
    assert refused.code == 2 and "which call no model" in refused.err


def test_skills_are_removed_and_added_by_their_file(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "deploy-notes"
    folder.mkdir()
    (folder / "SKILL.md").write_text(
        "---\nname: deploy-notes\ndescription: how we deploy\n---\nsteps\n"
    )
    assert cli("skills", "add", str(folder / "SKILL.md")).code == 0
    assert "deploy-notes" in cli("skills", "list").out
    assert cli("skills", "rm", "deploy-notes").out == "removed skill deploy-notes\n"
    assert "deploy-notes" not in cli("skills", "list").out
    builtin = cli("skills", "rm", "split-work")
    assert builtin.code == 2 and "is built in and cannot be removed" in builtin.err
    missing = cli("skills", "rm", "nope")
    assert missing.code == 2 and "there is no skill 'nope' of yours" in missing.err
    assert os.environ.get("HERMES_HOME")
