"""`hermes board ...` through the real CLI, as a user and as a script would use it."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from board import open_store
from board.clock import parse_iso, utcnow
from tests.conftest import Cli, add

CARD_KEYS = [
    "id",
    "title",
    "body",
    "status",
    "profile",
    "priority",
    "labels",
    "depends_on",
    "dependents",
    "blocked_by",
    "parent_id",
    "source",
    "key",
    "not_before",
    "repo",
    "base",
    "branch",
    "worktree",
    "attempts",
    "max_attempts",
    "timeout",
    "result",
    "created_at",
    "updated_at",
    "model",
    "archived_at",
]
RUN_KEYS = {
    "id",
    "attempt",
    "worker",
    "host",
    "pid",
    "started_at",
    "heartbeat_at",
    "ended_at",
    "outcome",
    "exit_code",
    "error",
    "tokens_in",
    "tokens_out",
    "cost_usd",
}


def git(cwd: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    (path / "src").mkdir(parents=True)
    git(path, "init", "-q", "-b", "trunk")
    (path / "README").write_text("hi\n")
    git(path, "add", ".")
    git(path, "commit", "-qm", "init")
    return path


#: The representative commands that also run on a PostgreSQL board.
both_engines = pytest.mark.engines("sqlite", "postgres")


@both_engines
def test_add_prints_the_id_alone(cli: Cli, db_url: str) -> None:
    first = cli("board", "add", "First", "--no-repo")
    second = cli("board", "add", "Second", "--no-repo")
    assert (first.code, first.out, second.out) == (0, "1\n", "2\n")


def test_add_json_is_the_contract_card(cli: Cli) -> None:
    card = cli(
        "board",
        "add",
        "Ship it",
        "--no-repo",
        "--body",
        "details",
        "--profile",
        "shell",
        "--priority",
        "4",
        "--label",
        "ops",
        "--label",
        "db",
        "--max-attempts",
        "5",
        "--timeout",
        "90",
        "--json",
    ).json()
    assert list(card) == CARD_KEYS
    assert card["title"] == "Ship it" and card["body"] == "details"
    assert (card["profile"], card["priority"], card["labels"]) == ("shell", 4, ["ops", "db"])
    assert (card["max_attempts"], card["timeout"], card["status"]) == (5, 90.0, "ready")
    assert card["source"] == "cli" and card["repo"] is None
    assert card["created_at"].endswith("Z") and len(card["created_at"]) == 27


def test_profile_defaults_apply_when_not_given(cli: Cli) -> None:
    card = cli(
        "board", "add", "x", "--no-repo", "--profile", "shell", "--body", "true", "--json"
    ).json()
    assert (card["max_attempts"], card["timeout"]) == (3, 600.0)
    assert cli("board", "add", "y", "--no-repo", "--json").json()["profile"] == "default"


def test_after_makes_a_card_wait_and_json_shows_the_edges(cli: Cli) -> None:
    a = add(cli, "a")
    b = add(cli, "b", "--after", str(a))
    c = add(cli, "c", "--after", f"#{a}", "--after", f"card-{b}")
    shown = cli("board", "show", str(c), "--json").json()
    assert (shown["status"], shown["depends_on"], shown["blocked_by"]) == (
        "waiting",
        [a, b],
        [a, b],
    )
    assert cli("board", "show", str(a), "--json").json()["dependents"] == [b, c]


def test_key_is_idempotent(cli: Cli) -> None:
    first = cli("board", "add", "daily report", "--no-repo", "--key", "report-2026-03-01")
    again = cli("board", "add", "daily report", "--no-repo", "--key", "report-2026-03-01")
    assert first.out == again.out == "1\n" and again.code == 0
    assert len(cli("board", "list", "--json").json()) == 1


def test_at_schedules_the_start(cli: Cli) -> None:
    before = utcnow()
    delayed = cli("board", "add", "later", "--no-repo", "--at", "+10m", "--json").json()
    start = parse_iso(delayed["not_before"])
    assert before + timedelta(minutes=10) <= start <= utcnow() + timedelta(minutes=10)
    exact = cli("board", "add", "exact", "--no-repo", "--at", "2030-01-02T03:04:05Z", "--json")
    assert exact.json()["not_before"] == "2030-01-02T03:04:05.000000Z"


def test_backlog_parks_and_move_releases(cli: Cli) -> None:
    card = add(cli, "parked", "--backlog")
    assert cli("board", "show", str(card), "--json").json()["status"] == "backlog"
    moved = cli("board", "move", str(card), "ready")
    assert (moved.code, moved.out) == (0, f"card {card} is now ready\n")


def test_repo_defaults_to_the_current_repository(cli: Cli, repo: Path) -> None:
    result = cli("board", "add", "fix", "--json", cwd=repo / "src")
    assert result.code == 0, result.err
    card = result.json()
    assert (card["repo"], card["base"]) == (str(repo), "trunk")


def test_outside_a_repository_a_card_gets_no_repo(cli: Cli, tmp_path: Path) -> None:
    card = cli("board", "add", "scratch", "--json", cwd=tmp_path).json()
    assert card["repo"] is None and card["base"] is None


def test_explicit_repo_and_base(cli: Cli, repo: Path) -> None:
    git(repo, "branch", "feature")
    card = cli("board", "add", "x", "--repo", str(repo / "src"), "--base", "feature", "--json")
    assert (card.json()["repo"], card.json()["base"]) == (str(repo), "feature")


def test_detached_head_bases_on_the_commit(cli: Cli, repo: Path) -> None:
    sha = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "--detach")
    assert cli("board", "add", "x", "--json", cwd=repo).json()["base"] == sha


def test_body_from_a_file_and_from_stdin(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "body.md"
    path.write_text("line 1\r\nline 2\n", encoding="utf-8")
    from_file = cli("board", "add", "f", "--no-repo", "--body-file", str(path), "--json").json()
    from_stdin = cli(
        "board", "add", "s", "--no-repo", "--body-file", "-", "--json", input="piped\n"
    )
    assert from_file["body"] == "line 1\r\nline 2\n"
    assert from_stdin.json()["body"] == "piped\n"


def test_list_json_filters(cli: Cli) -> None:
    add(cli, "a", "--label", "ops", "--profile", "shell", "--body", "true")
    add(cli, "b", "--backlog")
    add(cli, "c", "--label", "ops")
    ids = lambda *args: [c["id"] for c in cli("board", "list", *args, "--json").json()]  # noqa: E731
    assert ids() == [1, 2, 3]
    assert ids("--status", "backlog") == [2]
    assert ids("--status", "backlog", "--status", "ready") == [1, 2, 3]
    assert ids("--label", "ops") == [1, 3]
    assert ids("--profile", "shell") == [1]
    assert all(list(card) == CARD_KEYS for card in cli("board", "list", "--json").json())


@both_engines
def test_list_hides_old_finished_cards_unless_all(cli: Cli, db_url: str) -> None:
    old = add(cli, "old")
    add(cli, "new")
    with open_store(db_url, clock="caller") as store:  # cancelled in 2020, on any engine
        store.cancel(old, datetime(2020, 1, 1, tzinfo=UTC))
    assert [c["id"] for c in cli("board", "list", "--json").json()] == [2]
    assert [c["id"] for c in cli("board", "list", "--all", "--json").json()] == [1, 2]


@both_engines
def test_show_json_has_runs_and_events(cli: Cli, db_url: str) -> None:
    card = add(cli, "work")
    with open_store(db_url) as store:
        claim = store.claim(utcnow(), 60, worker="w", host="h", pid=1)
        assert claim and store.fail(claim.run_id, utcnow(), "boom", exit_code=3)
    shown = cli("board", "show", str(card), "--json").json()
    assert list(shown)[: len(CARD_KEYS)] == CARD_KEYS
    assert [set(run) >= RUN_KEYS for run in shown["runs"]] == [True]
    assert shown["runs"][0]["error"] == "boom" and shown["runs"][0]["exit_code"] == 3
    assert [e["kind"] for e in shown["events"]] == ["created", "claimed", "failed"]
    assert all(list(e) == ["at", "kind", "actor", "data"] for e in shown["events"])


def test_dep_add_and_rm(cli: Cli) -> None:
    a, b = add(cli, "a"), add(cli, "b")
    added = cli("board", "dep", "add", str(b), "--on", str(a))
    assert (added.code, added.out) == (0, f"card {b} now depends on card {a} (waiting)\n")
    removed = cli("board", "dep", "rm", str(b), "--on", str(a))
    assert removed.out == f"card {b} no longer depends on card {a} (ready)\n"


def test_cancel_retry_comment(cli: Cli) -> None:
    card = add(cli, "c")
    assert cli("board", "comment", str(card), "remember the flag").code == 0
    assert (
        cli("board", "cancel", str(card), "--reason", "dup").out
        == f"card {card} is now cancelled\n"
    )
    assert cli("board", "retry", str(card)).out == f"card {card} is now ready\n"
    events = cli("board", "show", str(card), "--json").json()["events"]
    assert [e["kind"] for e in events] == ["created", "comment", "cancelled", "retried"]
    assert events[1]["data"] == {"text": "remember the flag"}
    assert events[2]["data"]["reason"] == "dup"


def test_stats_json(cli: Cli) -> None:
    add(cli, "a", "--profile", "shell", "--body", "true")
    add(cli, "b", "--backlog")
    stats = cli("board", "stats", "--json").json()
    assert stats["cards"] == 2
    assert stats["by_status"]["ready"] == 1 and stats["by_status"]["backlog"] == 1
    assert stats["by_profile"] == {"shell": {"ready": 1}, "default": {"backlog": 1}}
    assert stats["runs"] == {"total": 0, "by_outcome": {}, "by_profile": {}}
    assert stats["oldest_ready_age_seconds"] >= 0


def test_human_list_groups_by_status(cli: Cli) -> None:
    add(cli, "Write the parser", "--profile", "shell", "--body", "make")
    add(cli, "Wire the CLI", "--after", "1", "--label", "cli")
    add(cli, "Someday", "--backlog")
    out = cli("board", "list").out
    assert out.index("backlog") < out.index("waiting") < out.index("ready")
    for text in ("Write the parser", "Wire the CLI", "Someday", "shell", "cli", "Waiting for"):
        assert text in out


def test_human_show_is_readable(cli: Cli) -> None:
    add(cli, "Write the parser", "--body", "Use a recursive descent parser.", "--label", "x")
    out = cli("board", "show", "1").out
    for text in (
        "card 1",
        "Write the parser",
        "ready",
        "Use a recursive descent parser.",
        "events",
        "created",
        "attempts",
        "0/2",
    ):
        assert text in out, text


def test_empty_board_says_how_to_start(cli: Cli) -> None:
    assert "hermes board add" in cli("board", "list").out


def test_version_and_module_entry_point(cli: Cli) -> None:
    from hermes import __version__

    assert cli("--version").out == f"hermes {__version__}\n"


def test_board_add_does_not_import_heavy_modules(hermes_home: Path) -> None:
    """`board add` must stay fast: never litellm or rich; SQLAlchemy only to create the
    board, pydantic and YAML only to validate a profile not seen before."""
    script = (
        "import sys; from hermes.cli import main; "
        "code = main(['board', 'add', 'x', '--no-repo']); "
        "heavy = ('litellm', 'openai', 'sqlalchemy', 'sqlmodel', 'rich', 'git', 'pydantic', "
        "'yaml'); "
        "print(code, sorted(m for m in heavy if m in sys.modules), file=sys.stderr)"
    )
    runs = [
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        for _ in range(2)
    ]
    first = "0 ['pydantic', 'sqlalchemy', 'sqlmodel', 'yaml']"  # creates the board, validates
    assert [run.stderr.strip() for run in runs] == [first, "0 []"]


@pytest.mark.parametrize(
    "args",
    [
        ["board", "list"],
        ["board", "list", "--json"],
        ["board", "show", "1"],
        ["board", "stats"],
        ["cron", "list"],
        ["dispatcher", "status"],
        ["board", "add", "y", "--no-repo"],
    ],
    ids=" ".join,
)
def test_short_commands_import_nothing_heavy_and_define_no_dataclass(
    hermes_home: Path, args: list[str]
) -> None:
    """What every short command pays before it starts: no rich, pydantic or YAML (once the
    board exists and its profiles are cached), and no dataclass (defining one generates
    and compiles its methods: the board's twenty once took a third of `board add`)."""
    script = (
        "import dataclasses, sys\n"
        "made = []\n"
        "define = dataclasses._process_class\n"
        "def counted(cls, *a, **k):\n"
        "    made.append(cls.__qualname__)\n"
        "    return define(cls, *a, **k)\n"
        "dataclasses._process_class = counted\n"
        "from hermes.cli import main\n"
        f"code = main({args!r})\n"
        "heavy = ('litellm', 'rich', 'pydantic', 'yaml', 'sqlalchemy', 'git')\n"
        "print(code, sorted(m for m in heavy if m in sys.modules), made, file=sys.stderr)\n"
    )
    first = subprocess.run(
        [sys.executable, "-m", "hermes", "board", "add", "x", "--no-repo"], capture_output=True
    )
    assert first.returncode == 0, first.stderr
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.stderr.strip().splitlines()[-1] == "0 [] []"


def test_user_text_is_never_read_as_markup(cli: Cli, db_url: str) -> None:
    """Titles like `[/]` once crashed rich; every view must print them literally."""
    title = "Fix [/] and [bold]weird[/bold] markup"
    card = add(cli, title, "--label", "[red]x", "--body", "[/]")
    with open_store(db_url) as store:
        claim = store.claim(utcnow(), 60, worker="[/]")
        assert claim and store.fail(claim.run_id, utcnow(), "[/] broke", exit_code=1)
        store.comment(card, "[/i]", utcnow(), actor="[b]")
    for args in (["board", "list"], ["board", "show", str(card)], ["board", "stats"]):
        result = cli(*args)
        assert result.code == 0, result.err
    assert title in cli("board", "show", str(card)).out
    assert "[/] broke" in cli("board", "show", str(card)).out
    assert "[red]x" in cli("board", "list").out
