"""What a person sees: `board list`, `show`, `stats`, `cron list` and the profiles
through the real CLI, on terminals of 120, 80 and 60 columns and in a pipe."""

from __future__ import annotations

import io
import os
import re
import subprocess
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from typer.main import get_command

from board import NewCard, Store, open_store
from board.clock import utcnow
from hermes.cli import main
from hermes.cli.app import app
from tests.conftest import Cli, add
from tests.helpers.terminal import Terminal, hermes

WIDTHS = ["120", "80", "60"]
PUSH = {"kind": "approval", "command": "git push --force origin main", "risk": "high"}
ASK = {"kind": "question", "question": "Which region should the bucket live in?"}


def pause(store: Store, title: str, request: dict[str, str]) -> int:
    card, _ = store.add_card(NewCard(title, "shell", 3, priority=5), utcnow())
    claim = store.claim(utcnow(), 60)
    assert claim is not None and claim.card_id == card
    assert store.pause(claim.run_id, utcnow(), {**request, "reason": "force push"})
    return card


def piped(*args: str) -> str:
    """`hermes ARGS | cat` with no COLUMNS set, as in a script."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.run(hermes(*args), capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def section(out: str, status: str) -> str:
    """The lines of one status group of `board list`, whitespace collapsed."""
    part = re.split(rf"^\s+{status} \d+$", out, flags=re.M)[1]
    part = part.strip("\n").split("\n\n", 1)[0]
    return " ".join(part.split())


@pytest.mark.parametrize("columns", WIDTHS)
def test_list_says_what_a_paused_card_waits_for_at_any_width(
    cli: Cli, db_url: str, columns: str
) -> None:
    with open_store(db_url) as store:
        push = pause(store, "Publish the release to every mirror", PUSH)
        ask = pause(store, "Create the storage bucket", ASK)
        store.add_card(NewCard("Something else", "shell", 3), utcnow())
    out = cli("board", "list", COLUMNS=columns).out
    assert all(len(line) <= int(columns) for line in out.splitlines()), out
    paused = section(out, "needs_input")
    assert f"{push} Publish" in paused and f"{ask} Create" in paused, out
    assert "approve: git push --force origin main (high risk)" in paused, out  # folded, whole
    assert "answer: Which region should the bucket live in?" in paused, out


def test_list_on_a_real_narrow_terminal(db_url: str) -> None:
    with open_store(db_url) as store:
        push = pause(store, "Publish the release to every mirror", PUSH)
    term = Terminal(hermes("board", "list"), cols=60, rows=20)
    try:
        assert term.wait_for("(high risk)"), term.text()
    finally:
        term.close()
    screen = term.text()
    assert all(len(line) <= 60 for line in screen.splitlines()), screen
    assert "approve: git push --force origin main (high risk)" in " ".join(screen.split())
    assert re.search(rf"^\s*{push}\s+Publish", screen, re.M), screen


@pytest.mark.parametrize("columns", ["60", "40", "30"])
def test_the_id_column_never_shrinks(cli: Cli, db_url: str, columns: str) -> None:
    with open_store(db_url, synchronous="OFF") as store:
        for n in range(1, 1001):
            after = [n - 1] if n % 100 == 1 and n > 1 else []
            title = f"A rather long title for card {n}"
            store.add_card(NewCard(title, "shell", 3, after=after), utcnow())
    out = cli("board", "list", "--limit", "0", COLUMNS=columns).out
    ids = [int(line.split()[0]) for line in out.splitlines() if re.match(r"^\s*\d+\s", line)]
    assert sorted(ids) == list(range(1, 1001))


def test_cron_list_keeps_the_id_at_80_columns_and_in_a_pipe(cli: Cli) -> None:
    for n in range(12):
        job = cli(
            "cron",
            "add",
            "weekdays at 7:30",
            f"Morning report number {n} for the whole team",
            "--no-repo",
            "--profile",
            "shell",
            "--body",
            "true",
            "--tz",
            "America/Argentina/Buenos_Aires",
        )
        assert job.code == 0, job.err
    for out in (cli("cron", "list", COLUMNS="80").out, cli("cron", "list", COLUMNS="40").out):
        rows = [line.split()[0] for line in out.splitlines()[2:]]
        assert rows == [str(n) for n in range(1, 13)], out
    whole = piped("cron", "list")
    assert "weekdays at 7:30 (America/Argentina/Buenos_Aires)" in whole  # a pipe cuts nothing
    assert "Morning report number 11 for the whole team" in whole and "…" not in whole


def test_a_pipe_gets_whole_titles_and_no_colour(cli: Cli) -> None:
    title = "Investigate the flaky integration test " + "that fails on Tuesdays " * 8
    add(cli, title.strip())
    out = piped("board", "list")
    assert title.strip() in out and "…" not in out and "\x1b" not in out
    assert "\x1b[" in cli("board", "list", FORCE_COLOR="1").out  # colour when asked
    assert all(line == line.rstrip() for line in out.splitlines())  # no trailing blanks


def test_limit_says_how_many_more_and_how_to_see_them(cli: Cli, db_url: str) -> None:
    with open_store(db_url) as store:
        for n in range(7):
            store.add_card(NewCard(f"card {n}", "shell", 3), utcnow())
    for columns in WIDTHS:
        out = cli("board", "list", "--limit", "3", COLUMNS=columns).out
        hint = " ".join(out.split("…", 1)[1].split())
        assert hint == "4 more: hermes board list --status ready --limit 0", out


def test_scheduled_cards_round_to_the_nearest_unit(cli: Cli) -> None:
    card = add(cli, "Nightly report", "--at", "+2h")
    add(cli, "Soon", "--at", "+10m")
    out = cli("board", "list").out
    assert "start in 2h" in out and "start in 10m" in out, out
    assert "starts      in 2h (" in cli("board", "show", str(card)).out


def test_stats_on_an_empty_board_says_so(cli: Cli) -> None:
    result = cli("board", "stats")
    assert result.code == 0
    assert result.out == (
        "The board is empty. Add a card with: hermes board add 'What needs doing'\n"
    )


def test_stats_counts_with_singular_and_plural(cli: Cli) -> None:
    add(cli, "one", "--profile", "shell", "--body", "true")
    out = cli("board", "stats").out
    assert out.startswith("1 card\n") and "0 runs" in out and "No runs yet" in out
    add(cli, "two", "--backlog")
    assert cli("board", "stats").out.startswith("2 cards\n")


def test_oldest_ready_counts_only_cards_claimable_now(cli: Cli) -> None:
    add(cli, "later", "--at", "+1h")
    add(cli, "parked", "--backlog")
    assert cli("board", "stats", "--json").json()["oldest_ready_age_seconds"] is None
    assert "oldest ready" not in cli("board", "stats").out
    add(cli, "due", "--at", "2020-01-01T00:00:00Z")  # due long ago: claimable since added
    age = cli("board", "stats", "--json").json()["oldest_ready_age_seconds"]
    assert age is not None and 0 <= age < 60
    assert "The oldest ready card has waited" in cli("board", "stats").out


def test_profiles_say_1_attempt(cli: Cli, hermes_home: Path) -> None:
    out = cli("profiles", "list").out
    assert "1 attempt ·" in out and "1 attempts" not in out and "3 attempts" in out


COMMANDS: list[list[str]] = []


def _paths(command: object, path: list[str]) -> None:
    COMMANDS.append(path)
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        _paths(sub, [*path, name])


_paths(get_command(app), [])


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) or "hermes" for p in COMMANDS])
def test_dash_h_is_help_on_every_command_and_group(path: list[str]) -> None:
    shown = io.StringIO()
    with redirect_stdout(shown):
        code = main([*path, "-h"])
    assert code == 0
    assert "Usage:" in shown.getvalue() and "--help" in shown.getvalue()


def test_a_mistyped_command_is_one_sentence(cli: Cli) -> None:
    result = cli("boar", "list")
    assert result.code == 2 and result.out == ""
    assert (
        result.err == "error: no such command 'boar' (did you mean 'board'?); see `hermes --help`\n"
    )
    option = cli("board", "list", "--stat", "ready")
    assert option.err == (
        "error: no such option: --stat (possible options: --status); "
        "see `hermes board list --help`\n"
    )


def test_only_the_named_command_is_built_yet_help_lists_them_all(cli: Cli) -> None:
    """Building one command's parser is what makes `board add` fast; `--help` of a group
    and a typo still see every command."""
    assert "merge" in cli("board", "--help").out and "approve" in cli("board", "-h").out
    assert "did you mean 'stats'" in cli("board", "stat").err
    assert cli("board", "add", "x", "--no-repo").out == "1\n"


def test_show_is_one_line_per_field_and_keeps_body_lines(cli: Cli, db_url: str) -> None:
    card = add(cli, "Deploy", "--body", "line one\nline two\tindented", "--label", "a\nb")
    with open_store(db_url) as store:
        store.comment(card, "please\nhurry", utcnow())
    out = cli("board", "show", str(card)).out
    assert "\n  line one\n  line two\tindented\n" in out  # a body keeps its lines
    assert "labels      a\\nb" in out and "text=please\\nhurry" in out
