"""Bad input through the real CLI: exit 2, one `error:` line naming the value, no
traceback, nothing on stdout, and the board exactly as it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from board import NewCard, open_store
from board.clock import utcnow
from tests.conftest import Cli


def snapshot(db: Path) -> list[tuple[object, ...]]:
    """Every row of every table: "unchanged" means this is equal before and after."""
    cx = sqlite3.connect(db)
    try:
        rows: list[tuple[object, ...]] = []
        tables = cx.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        for (table,) in tables.fetchall():
            rows += [(table, *row) for row in cx.execute(f"SELECT * FROM {table} ORDER BY 1")]
        return rows
    finally:
        cx.close()


@pytest.fixture
def board(db_url: str, hermes_home: Path) -> Path:
    """1 done, 2 ready (after 1), 3 waiting (after 2), 4 backlog."""
    return build_board(db_url, hermes_home)


def build_board(db_url: str, hermes_home: Path) -> Path:
    """The `board` fixture's cards and a broken profile; returns the database file."""
    now = utcnow()
    with open_store(db_url) as store:
        store.add_card(NewCard("done one", "shell", 3), now)
        claim = store.claim(now, 60)
        assert claim is not None
        store.add_card(NewCard("ready one", "shell", 3, after=[1]), now)
        store.add_card(NewCard("waiting one", "shell", 3, after=[2]), now)
        store.add_card(NewCard("parked one", "shell", 3, backlog=True), now)
        store.complete(claim.run_id, now)
    profiles = hermes_home / "profiles"
    profiles.mkdir()
    (profiles / "broken.yaml").write_text("runner: command\nconcurency: 2\n")
    return hermes_home / "board.db"


BAD_INPUTS = [
    (["board", "dep", "add", "2", "--on", "3"], "cycle 2 -> 3 -> 2"),
    (["board", "dep", "add", "2", "--on", "2"], "card 2 cannot depend on itself"),
    (["board", "show", "99"], "card 99 does not exist"),
    (["board", "show", "abc"], "'abc' is not a card id"),
    (["board", "dep", "add", "99", "--on", "2"], "card 99 does not exist"),
    (["board", "dep", "add", "2", "--on", "99"], "card 99 does not exist"),
    (["board", "dep", "rm", "2", "--on", "4"], "card 2 does not depend on card 4"),
    (["board", "move", "99", "ready"], "card 99 does not exist"),
    (["board", "add", "x", "--no-repo", "--after", "99"], "card 99 does not exist"),
    (["board", "add", "x", "--no-repo", "--profile", "nope"], "unknown profile 'nope'"),
    (["board", "add", "x", "--no-repo", "--profile", "broken"], "broken.yaml: 'concurency' is not"),
    (["board", "add", "x", "--no-repo", "--priority", "high"], "'high'"),
    (["board", "add", "x", "--no-repo", "--priority", "1.5"], "'1.5'"),
    (["board", "add", "x", "--no-repo", "--max-attempts", "0"], "--max-attempts 0"),
    (["board", "add", "x", "--no-repo", "--timeout", "0"], "--timeout 0"),
    (["board", "add", "x", "--no-repo", "--at", "soonish"], "--at 'soonish' is not a time"),
    (["board", "add", "", "--no-repo"], "the title is empty"),
    (["board", "add", "   ", "--no-repo"], "the title is empty"),
    (["board", "add", "x", "--no-repo", "--key", ""], "--key is empty"),
    (["board", "add", "x", "--no-repo", "--label", " "], "--label is empty"),
    (["board", "add", "x", "--no-repo", "--body", "a", "--body-file", "-"], "not both"),
    (["board", "add", "x", "--no-repo", "--body-file", "/no/such/file"], "/no/such/file"),
    (["board", "add", "x", "--no-repo", "--base", "main"], "cannot be combined"),
    (["board", "add", "x", "--no-repo", "--colour", "red"], "no such option: --colour"),
    (["board", "move", "2", "doing"], "unknown status 'doing'"),
    (["board", "move", "1", "running"], "cannot move card 1 from done to running"),
    (["board", "move", "3", "ready"], "card 3 cannot be ready: it waits for 2"),
    (["board", "move", "2"], "missing argument 'STATUS'"),
    (["board", "cancel", "1"], "card 1 is already done"),
    (["board", "retry", "2"], "only failed or cancelled cards can be retried"),
    (["board", "comment", "2", " "], "the comment is empty"),
    (["board", "list", "--status", "nope"], "unknown status 'nope'"),
    (["board", "list", "--limit", "-1"], "--limit -1"),
    (["board", "frobnicate"], "no such command 'frobnicate'"),
    (["profiles", "show", "nope"], "unknown profile 'nope'"),
    (["profiles", "show", "broken"], "broken.yaml: 'concurency' is not a profile field"),
]


def assert_refused(result_code: int, out: str, err: str, expected: str, code: int = 2) -> None:
    """One `error:` line naming `expected`, exit `code` (2: bad input), nothing else."""
    lines = err.strip().splitlines()
    assert result_code == code, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert expected in lines[0], lines[0]
    assert "Traceback" not in err and out == ""


@pytest.mark.parametrize(("args", "expected"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_refused_and_changes_nothing(
    cli: Cli, board: Path, args: list[str], expected: str
) -> None:
    before = snapshot(board)
    result = cli(*args)
    assert_refused(result.code, result.out, result.err, expected)
    assert snapshot(board) == before


def test_a_body_file_that_is_not_utf8(cli: Cli, board: Path, tmp_path: Path) -> None:
    path = tmp_path / "binary.bin"
    path.write_bytes(b"\xff\xfe\x00binary")
    before = snapshot(board)
    result = cli("board", "add", "x", "--no-repo", "--body-file", str(path))
    assert_refused(result.code, result.out, result.err, f"--body-file {path} is not UTF-8")
    assert snapshot(board) == before


def test_a_repo_that_is_not_a_git_repository(cli: Cli, board: Path, tmp_path: Path) -> None:
    before = snapshot(board)
    result = cli("board", "add", "x", "--repo", str(tmp_path))
    assert_refused(result.code, result.out, result.err, f"--repo {tmp_path} is not inside a git")
    missing = cli("board", "add", "x", "--repo", str(tmp_path / "nowhere"))
    assert_refused(missing.code, missing.out, missing.err, "is not a directory")
    assert snapshot(board) == before


def test_a_repository_without_commits(cli: Cli, board: Path, tmp_path: Path) -> None:
    import subprocess

    subprocess.run(["git", "init", "-q", str(tmp_path / "empty")], check=True)
    result = cli("board", "add", "x", "--repo", str(tmp_path / "empty"))
    assert_refused(result.code, result.out, result.err, "has no commits yet")


def test_an_unknown_base(cli: Cli, board: Path, tmp_path: Path) -> None:
    import subprocess

    repo = tmp_path / "r"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@x",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "i",
        ],
        cwd=repo,
        check=True,
    )
    result = cli("board", "add", "x", "--repo", str(repo), "--base", "no-such-branch")
    assert_refused(result.code, result.out, result.err, "--base 'no-such-branch' is not a branch")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HERMES_DB_URL": "mysql://db/x"}, "HERMES_DB_URL scheme 'mysql' is not supported"),
        (
            {"HERMES_DB_URL": "/tmp/x.db"},
            "HERMES_DB_URL '/tmp/x.db' is not a URL; write it as sqlite:////tmp/x.db",
        ),
        ({"HERMES_HOME": "/tmp/a\nb"}, "HERMES_HOME '/tmp/a\\nb' contains a control character"),
        ({"HERMES_SQLITE_SYNCHRONOUS": "maybe"}, "'MAYBE' is not a SQLite synchronous level"),
    ],
)
def test_bad_settings_are_refused(cli: Cli, env: dict[str, str], expected: str) -> None:
    result = cli("board", "list", **env)
    assert_refused(result.code, result.out, result.err, expected)


def test_a_corrupt_board_is_an_environment_error(cli: Cli, hermes_home: Path) -> None:
    hermes_home.mkdir()
    (hermes_home / "board.db").write_bytes(b"garbage" * 1000)
    result = cli("board", "list")
    assert result.code == 1
    assert (
        result.err.startswith("error: cannot use the board database")
        and "Traceback" not in result.err
    )
    assert len(result.err.strip().splitlines()) == 1


def test_hermes_debug_shows_the_traceback(cli: Cli, hermes_home: Path) -> None:
    hermes_home.mkdir()
    (hermes_home / "board.db").write_bytes(b"garbage" * 1000)
    result = cli("board", "list", HERMES_DEBUG="1")
    assert "Traceback" in result.err
    assert result.err.strip().splitlines()[-1].startswith("error: cannot use the board database")


def test_an_unusable_home_is_an_environment_error(cli: Cli, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = cli("board", "list", HERMES_HOME=str(blocker / "home"))
    assert result.code == 1
    assert result.err.startswith("error: cannot create") and "HERMES_HOME" in result.err
