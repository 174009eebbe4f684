"""Malformed values for every command through the real CLI, and a home that cannot be
written: a one-line `error:` naming the value, exit 2 (1 for the environment), nothing
on stdout, no traceback, and the board exactly as it was.

The cases are tables; `board` (tests/acceptance/test_cli_errors.py) is extended with a
card paused on a question, a cron job, and broken profiles and skills.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from board import NewCard, Store, open_store
from board.cards import MAX_LINE_CHARS, MAX_TEXT_BYTES
from board.clock import utcnow
from board.cron_ops import NewJob
from hermes.errors import InvalidInput
from tests.acceptance.test_cli_errors import assert_refused, build_board, snapshot
from tests.conftest import Cli

HUGE = "99999999999999999999999"
TOO_BIG = str(2**63)  # one past the largest id a row can have
LARGEST = str(2**63 - 1)  # a valid integer no card has
PAUSED = 5  # the card paused on a question (see `board`)

BROKEN_PROFILES = {
    "p-syntax": b"runner: [command\n",
    "p-types": b"runner: command\nconcurrency: lots\n",
    "p-unknown": b"runner: command\ncolour: red\n",
    "p-list": b"- runner\n- command\n",
    "p-scalar": b"just a string\n",
    "p-binary": b"\xff\xfe\x00\x01",
    "p-twice": b"runner: command\nrunner: agent\n",
    "p-nan": b"runner: command\ntimeout: .nan\n",
    "p-huge": b"runner: command\nmax_attempts: 99999999999999999999999\n",
}
BROKEN_SKILLS = {
    "s-syntax": b"---\nname: [\n---\nbody\n",
    "s-nofront": b"no front matter\n",
    "s-list": b"---\n- a\n---\nbody\n",
    "s-binary": b"\xff\xfe\x00",
    "s-tags": b"---\nname: s-tags\ndescription: d\ntags: 5\n---\nbody\n",
}


@pytest.fixture
def board(db_url: str, hermes_home: Path) -> Path:
    """`test_cli_errors.board` plus card 5 paused on a question, cron job 1, broken
    profiles in the home, and broken skills and odd files beside it (`files/`)."""
    db = build_board(db_url, hermes_home)
    now = utcnow()
    with open_store(db_url) as store:
        store.add_card(NewCard("asker", "shell", 3, priority=10), now)
        claim = store.claim(now, 3600)
        assert claim is not None and claim.card_id == PAUSED
        store.pause(claim.run_id, now, {"kind": "question", "question": "which one?"})
        store.add_job(NewJob("0 9 * * *", "UTC", "nightly", "shell"), now, now + timedelta(hours=1))
    for name, text in BROKEN_PROFILES.items():
        (hermes_home / "profiles" / f"{name}.yaml").write_bytes(text)
    files = hermes_home.parent / "files"
    for name, text in BROKEN_SKILLS.items():
        (files / name).mkdir(parents=True)
        (files / name / "SKILL.md").write_bytes(text)
    (files / "no-skill").mkdir()
    (files / "plain").mkdir()
    (files / "a-file.txt").write_bytes(b"not a folder\n")
    (files / "nul.txt").write_bytes(b"echo hi\x00there\n")  # text for an agent, not for bash
    (files / "big.txt").write_bytes(b"x" * (MAX_TEXT_BYTES + 1))
    subprocess.run(["git", "init", "-q", str(files / "empty-repo")], check=True)
    return db


# Every command that takes a card id or a cron job id, with ID where it goes.
CARD_ID_COMMANDS = [
    ["board", "show", "ID", "--json"],
    ["board", "move", "ID", "ready"],
    ["board", "cancel", "ID"],
    ["board", "retry", "ID"],
    ["board", "comment", "ID", "hi"],
    ["board", "dep", "add", "ID", "--on", "2"],
    ["board", "dep", "add", "4", "--on", "ID"],
    ["board", "dep", "rm", "ID", "--on", "2"],
    ["board", "dep", "rm", "3", "--on", "ID"],
    ["board", "approve", "ID"],
    ["board", "reject", "ID"],
    ["board", "reply", "ID", "hi"],
    ["board", "log", "ID"],
    ["board", "merge", "ID"],
    ["board", "add", "x", "--no-repo", "--after", "ID"],
    ["goal", "status", "ID", "--json"],
]
JOB_ID_COMMANDS = [
    ["cron", "rm", "ID"],
    ["cron", "pause", "ID"],
    ["cron", "resume", "ID"],
    ["cron", "run", "ID", "--json"],
]
BAD_IDS = [
    ("abc", "'abc' is not a"),
    ("-1", "no such option: -1 (ids are positive numbers"),
    ("0", "0 does not exist"),
    (HUGE, f"{HUGE} does not exist"),
    (TOO_BIG, f"{TOO_BIG} does not exist"),
    (LARGEST, f"{LARGEST} does not exist"),
]


def _expected(args: list[str], value: str, expected: str) -> str:
    """As an option's value -1 reaches the id parser; as an argument click reads it as an
    unknown option."""
    as_option_value = args[args.index("ID") - 1].startswith("--")
    return "'-1' is not a card id" if value == "-1" and as_option_value else expected


ADD = ["board", "add", "x", "--no-repo"]
START = ["dispatcher", "start", "--until-idle"]
CRON = ["cron", "add", "0 9 * * *", "x", "--no-repo"]
GOAL = ["goal", "x", "--no-repo"]
RANGE = "must be between"

VALUE_CASES: list[tuple[list[str], str]] = [
    # numeric bounds
    ([*ADD, "--max-attempts", "0"], "--max-attempts 0 must be between 1 and 1,000"),
    ([*ADD, "--max-attempts", "1001"], "--max-attempts 1001 must be between 1 and 1,000"),
    ([*ADD, "--max-attempts", HUGE], f"--max-attempts {HUGE} {RANGE}"),
    ([*ADD, "--max-attempts", "nan"], "'nan' is not a valid int"),
    ([*ADD, "--priority", "1000000001"], f"--priority 1000000001 {RANGE}"),
    ([*ADD, "--priority", "-1000000001"], f"--priority -1000000001 {RANGE}"),
    ([*ADD, "--priority", TOO_BIG], f"--priority {TOO_BIG} {RANGE}"),
    ([*ADD, "--priority", "inf"], "'inf' is not a valid int"),
    ([*ADD, "--timeout", "-1"], "--timeout -1 must be a number of seconds above 0"),
    ([*ADD, "--timeout", "31622401"], "at most 31,622,400 (a year)"),
    ([*ADD, "--timeout", "nan"], "--timeout nan must be"),
    ([*ADD, "--timeout", "inf"], "--timeout inf must be"),
    ([*ADD, "--timeout", "-inf"], "--timeout -inf must be"),
    ([*ADD, "--timeout", "1e999"], "--timeout inf must be"),
    ([*START, "--concurrency", "1001"], f"--concurrency 1001 {RANGE} 1 and 1,000"),
    ([*START, "--concurrency", HUGE], f"--concurrency {HUGE} {RANGE}"),
    ([*START, "--concurrency", "nan"], "'nan' is not a valid int"),
    ([*START, "--tick", "nan"], f"--tick nan {RANGE} 0.01 and 86,400 seconds"),
    ([*START, "--tick", "inf"], f"--tick inf {RANGE}"),
    ([*START, "--tick", "86401"], f"--tick 86401 {RANGE}"),
    ([*START, "--heartbeat", "0.001"], f"--heartbeat 0.001 {RANGE}"),
    ([*START, "--heartbeat", "-inf"], f"--heartbeat -inf {RANGE}"),
    ([*START, "--lease", "1e999"], f"--lease inf {RANGE}"),
    ([*START, "--backoff", "-1"], f"--backoff -1 {RANGE}"),
    ([*START, "--backoff-max", "nan"], f"--backoff-max nan {RANGE}"),
    ([*START, "--grace", "-1"], f"--grace -1 {RANGE} 0 and 86,400 seconds"),
    ([*START, "--grace", "nan"], f"--grace nan {RANGE}"),
    ([*START, "--grace", "86401"], f"--grace 86401 {RANGE}"),
    ([*START, "--tick", "abc"], "'abc' is not a valid float"),
    (["up", "--concurrency", "0"], f"--concurrency 0 {RANGE}"),
    (["up", "--tick", "inf"], f"--tick inf {RANGE}"),
    (["up", "--lease", "1", "--heartbeat", "2"], "--lease 1 must be longer than --heartbeat 2"),
    ([*GOAL, "--budget", "0"], f"--budget 0 {RANGE} 1 and 1,000"),
    ([*GOAL, "--budget", "1001"], f"--budget 1001 {RANGE}"),
    ([*GOAL, "--budget", HUGE], f"--budget {HUGE} {RANGE}"),
    ([*GOAL, "--budget", "nan", "--json"], "'nan' is not a valid int"),
    (["board", "watch", "--interval", "0.04"], f"--interval 0.04 {RANGE} 0.05 and 60 seconds"),
    (["board", "watch", "--interval", "61"], f"--interval 61 {RANGE}"),
    (["board", "watch", "--interval", "nan"], f"--interval nan {RANGE}"),
    (["board", "watch", "--interval", "-inf"], f"--interval -inf {RANGE}"),
    (["board", "watch", "--interval", "1e999"], f"--interval inf {RANGE}"),
    (["board", "list", "--limit", "-5", "--json"], "--limit -5 must be 0 (no limit) or more"),
    (["board", "list", "--limit", "1e999"], "'1e999' is not a valid int"),
    # statuses
    (["board", "move", "2", ""], "unknown status ''"),
    (["board", "move", "2", "\x1b[2J"], "unknown status '\\x1b[2J'"),
    (["board", "list", "--status", "later", "--json"], "unknown status 'later'"),
    # times
    ([*ADD, "--at", ""], "--at '' is not a time"),
    ([*ADD, "--at", "-5m"], "--at '-5m' is not a time"),
    ([*ADD, "--at", "2026-02-30T10:00", "--json"], "--at '2026-02-30T10:00' is not a time"),
    ([*ADD, "--at", "10000-01-01"], "--at '10000-01-01' is not a time"),
    ([*ADD, "--at", f"+{HUGE}d"], f"--at '+{HUGE}d' is out of range"),
    ([*ADD, "--at", "+9999999999d"], "--at '+9999999999d' is out of range"),
    ([*ADD, "--at", "9999-12-31T23:59:59-23:00"], "is out of range"),
    ([*ADD, "--at", "0001-01-01T00:00:00+01:00"], "is out of range"),
    # profiles: unknown, and broken files
    ([*ADD, "--profile", ""], "unknown profile ''"),
    ([*ADD, "--profile", "../../etc/passwd"], "unknown profile '../../etc/passwd'"),
    ([*ADD, "--profile", "nope", "--json"], "unknown profile 'nope'"),
    ([*CRON, "--profile", "nope"], "unknown profile 'nope'"),
    ([*GOAL, "--profile", "nope"], "unknown profile 'nope'"),
    (["profiles", "show", "nope", "--json"], "unknown profile 'nope'"),
    (["profiles", "show", "p-syntax"], "p-syntax.yaml: not valid YAML at line 2, column 1"),
    (["profiles", "show", "p-types"], "p-types.yaml: field 'concurrency'"),
    (["profiles", "show", "p-unknown"], "p-unknown.yaml: 'colour' is not a profile field"),
    (["profiles", "show", "p-list", "--json"], "p-list.yaml: expected a mapping"),
    (["profiles", "show", "p-scalar"], "p-scalar.yaml: expected a mapping"),
    (["profiles", "show", "p-binary"], "p-binary.yaml: not UTF-8 text"),
    (["profiles", "show", "p-twice"], "p-twice.yaml: not valid YAML at line 2, column 1"),
    (["profiles", "show", "p-nan"], "p-nan.yaml: field 'timeout'"),
    (["profiles", "show", "p-huge"], "p-huge.yaml: field 'max_attempts'"),
    ([*ADD, "--profile", "p-syntax"], "p-syntax.yaml: not valid YAML"),
    ([*ADD, "--profile", "p-types", "--json"], "p-types.yaml: field 'concurrency'"),
    ([*ADD, "--profile", "p-list"], "p-list.yaml: expected a mapping"),
    ([*ADD, "--profile", "p-binary"], "p-binary.yaml: not UTF-8 text"),
    ([*ADD, "--profile", "p-twice"], "'runner' is given twice"),
    ([*CRON, "--profile", "p-unknown"], "p-unknown.yaml: 'colour' is not a profile field"),
    ([*GOAL, "--profile", "p-scalar"], "p-scalar.yaml: expected a mapping"),
    ([*GOAL, "--profile", "shell"], "profile 'shell' runs command cards, but a goal is planned"),
    ([*ADD, "--profile", "shell"], "the card has no body, and profile 'shell' runs its body"),
    ([*ADD, "--profile", "shell", "--body", " \n"], "the card has no body, and profile"),
    ([*CRON, "--profile", "shell"], "the card has no body, and profile 'shell' runs its body"),
    # schedules
    (["cron", "add", "", "x", "--no-repo"], "schedule '' is not understood"),
    (["cron", "add", "* * *", "x", "--no-repo"], "schedule '* * *' is not understood"),
    (["cron", "add", "61 * * * *", "x", "--no-repo"], "schedule '61 * * * *' is not a valid"),
    (["cron", "add", "* 25 * * *", "x", "--no-repo"], "schedule '* 25 * * *' is not a valid"),
    (["cron", "add", "* * 32 * *", "x", "--no-repo"], "schedule '* * 32 * *' is not a valid"),
    (["cron", "add", "* * * 13 *", "x", "--no-repo"], "schedule '* * * 13 *' is not a valid"),
    (["cron", "add", "* * * * 8", "x", "--no-repo"], "schedule '* * * * 8' is not a valid"),
    (["cron", "add", "0 9 30 2 *", "x", "--no-repo"], "schedule '0 9 30 2 *' never fires"),
    (["cron", "add", "every 0 seconds", "x", "--no-repo"], "the interval must be at least 1"),
    (["cron", "add", f"every {HUGE} hours", "x", "--no-repo"], "must be at most a year"),
    (["cron", "add", "every 9999999999 hours", "x", "--no-repo", "--json"], "at most a year"),
    (["cron", "add", "every 8785 hours", "x", "--no-repo"], "at most a year (8,784 hours)"),
    (["cron", "add", "every day at 25:00", "x", "--no-repo"], "25:00 is not a time of day"),
    (["cron", "add", "every day at 13pm", "x", "--no-repo"], "13pm is not a time"),
    (["cron", "add", "weekdays at 9:99", "x", "--no-repo"], "9:99 is not a time of day"),
    ([*CRON, "--tz", ""], "--tz '' is not a time zone"),
    ([*CRON, "--tz", "Mars/Olympus"], "--tz 'Mars/Olympus' is not a time zone"),
    ([*CRON, "--tz", "../../etc/passwd"], "--tz '../../etc/passwd' is not a time zone"),
    ([*CRON, "--overlap", "maybe"], "--overlap 'maybe' must be skip or allow"),
    ([*CRON, "--deliver", "nowhere"], "--deliver 'nowhere' must look like PLATFORM:CHAT"),
    (["cron", "add", "0 9 * * *", "", "--no-repo"], "the title is empty"),
    (["cron", "add", "0 9 * * *", " ", "--no-repo", "--json"], "the title is empty"),
    # text
    (["board", "add", "T" * (MAX_LINE_CHARS + 1), "--no-repo"], "the title 'TTTT"),
    ([*ADD, "--label", "L" * (MAX_LINE_CHARS + 1)], "--label 'LLLL"),
    ([*ADD, "--key", "K" * (MAX_LINE_CHARS + 1)], "--key 'KKKK"),
    (["cron", "add", "0 9 * * *", "T" * (MAX_LINE_CHARS + 1), "--no-repo"], "the title 'TTTT"),
    (["goal", "", "--no-repo"], "the objective is empty"),
    (["board", "reply", str(PAUSED), " "], "the reply is empty"),
    (["board", "add", "caf\udce9", "--no-repo"], "argument 'caf\\xe9' is not UTF-8 text"),
    (["board", "comment", "2", "\udcff"], "argument '\\xff' is not UTF-8 text"),
    (["board", "list", "--label", "\udcff", "--json"], "argument '\\xff' is not UTF-8 text"),
    (["goal", "caf\udce9", "--no-repo"], "argument 'caf\\xe9' is not UTF-8 text"),
    # answers to the paused card that do not fit its question
    (["board", "approve", str(PAUSED)], "card 5 waits for a question; answer it with"),
    (["board", "reject", str(PAUSED), "--reason", "no"], "card 5 waits for a question"),
    (["board", "reply", "2", "yes"], "card 2 is ready; it is not waiting for anyone"),
    # skills
    (["skills", "show", "nope", "--json"], "unknown skill 'nope'"),
    (["skills", "show", ""], "unknown skill ''"),
    (["skills", "add", "{files}/missing"], "{files}/missing has no SKILL.md"),
    (["skills", "add", "{files}/a-file.txt"], "{files}/a-file.txt has no SKILL.md"),
    (["skills", "add", "{files}/no-skill"], "{files}/no-skill has no SKILL.md"),
    (["skills", "add", "{files}/s-syntax"], "front matter is not valid YAML at line 3, column 1"),
    (["skills", "add", "{files}/s-nofront"], "must start with front matter"),
    (["skills", "add", "{files}/s-list"], "front matter must be a mapping"),
    (["skills", "add", "{files}/s-binary"], "s-binary/SKILL.md: not UTF-8 text"),
    (["skills", "add", "{files}/s-tags"], "s-tags/SKILL.md: tags must be a list"),
    # body files
    ([*ADD, "--body-file", "{files}/big.txt"], "--body-file {files}/big.txt is larger than 1,048"),
    ([*ADD, "--body-file", "{files}"], "--body-file {files}: Is a directory"),
    ([*CRON, "--body-file", "{files}/big.txt"], "--body-file {files}/big.txt is larger than"),
    ([*CRON, "--body-file", "{files}/missing"], "--body-file {files}/missing: No such file"),
    ([*ADD, "--profile", "shell", "--body-file", "{files}/nul.txt"], "a NUL character (at"),
    ([*CRON, "--profile", "shell", "--body-file", "{files}/nul.txt"], "which cannot take one"),
    # repositories
    (["board", "add", "x", "--repo", "{files}/plain"], "--repo {files}/plain is not inside a git"),
    (["board", "add", "x", "--repo", "{files}/empty-repo"], "has no commits yet"),
    (["board", "add", "x", "--repo", "{files}/missing", "--json"], "is not a directory"),
    (["board", "add", "x", "--repo", "{files}/a-file.txt"], "is not a directory"),
    (["cron", "add", "0 9 * * *", "x", "--repo", "{files}/plain"], "is not inside a git"),
    (["cron", "add", "0 9 * * *", "x", "--repo", "{files}/empty-repo"], "has no commits yet"),
    (["cron", "add", "0 9 * * *", "x", "--repo", "{files}/missing"], "is not a directory"),
    (["goal", "x", "--repo", "{files}/plain"], "--repo {files}/plain is not inside a git"),
    (["goal", "x", "--repo", "{files}/empty-repo", "--json"], "has no commits yet"),
    (["goal", "x", "--repo", "{files}/missing"], "--repo {files}/missing is not a directory"),
    ([*GOAL, "--repo", "{files}/plain"], "--no-repo cannot be combined with a repository"),
    # commands, arguments and options that do not exist
    (["dispatcher", "stop", "nope"], "no running dispatcher 'nope' on this board"),
    (["dispatcher", "halt"], "no such command 'halt'"),
    (["demo", "now"], "got unexpected extra argument(s) (now)"),
    (["board", "stats", "--json", "--bogus"], "no such option: --bogus"),
    (["dispatcher", "status", "--json", "extra"], "unexpected extra argument(s) (extra)"),
    (["board", "gc", "all"], "unexpected extra argument(s) (all)"),
    (["cron", "list", "--json", "--all"], "no such option: --all"),
    (["skills", "list", "--json", "x"], "unexpected extra argument(s) (x)"),
]


def case_id(args: list[str]) -> str:
    """A readable test id: long values shortened, controls spelled out."""
    shown = [a if len(a) <= 20 else a[:8] + "..." for a in args]
    return " ".join(shown).encode("unicode_escape").decode("ascii")


@pytest.mark.parametrize("command", CARD_ID_COMMANDS + JOB_ID_COMMANDS, ids=" ".join)
def test_bad_ids_are_refused_and_change_nothing(cli: Cli, board: Path, command: list[str]) -> None:
    before = snapshot(board)
    for value, expected in BAD_IDS:
        # The two values past 2**63 take the same path: the first of each kind gets both.
        if value == HUGE and command not in (CARD_ID_COMMANDS[0], JOB_ID_COMMANDS[0]):
            continue
        result = cli(*[value if a == "ID" else a for a in command])
        assert_refused(result.code, result.out, result.err, _expected(command, value, expected))
    assert snapshot(board) == before


@pytest.mark.parametrize(
    ("args", "expected"), VALUE_CASES, ids=[case_id(a) for a, _ in VALUE_CASES]
)
def test_bad_values_are_refused_and_change_nothing(
    cli: Cli, board: Path, hermes_home: Path, args: list[str], expected: str
) -> None:
    files = str(hermes_home.parent / "files")
    before = snapshot(board)
    result = cli(*[a.replace("{files}", files) for a in args])
    assert_refused(result.code, result.out, result.err, expected.replace("{files}", files))
    assert snapshot(board) == before


def test_a_huge_body_on_stdin_is_refused_without_reading_it_all(cli: Cli, board: Path) -> None:
    before = snapshot(board)
    result = cli(*ADD, "--body-file", "-", input="x" * (10 * 1024 * 1024))
    assert_refused(
        result.code, result.out, result.err, "--body-file - (standard input) is larger than"
    )
    assert snapshot(board) == before


def test_a_body_at_the_limit_is_kept_and_shown(cli: Cli, hermes_home: Path) -> None:
    """1 MiB is accepted, byte for byte, and `board list`/`show` stay quick with it."""
    body = ("y" * 79 + "\n") * (MAX_TEXT_BYTES // 80) + "z" * (MAX_TEXT_BYTES % 80)
    path = hermes_home.parent / "limit.txt"
    path.write_text(body)
    added = cli("board", "add", "T" * MAX_LINE_CHARS, "--no-repo", "--body-file", str(path))
    assert added.code == 0, added.err
    card = added.out.strip()
    assert cli("board", "show", card, "--json").json()["body"] == body
    shown, listed = cli("board", "show", card), cli("board", "list")
    assert shown.code == 0 and listed.code == 0 and "zzz" in shown.out
    assert len(listed.out.splitlines()) < 10  # the title is cut to the table, not wrapped


def test_control_characters_and_nul_in_a_body_are_kept_and_printed_escaped(
    cli: Cli, hermes_home: Path
) -> None:
    body = "echo \x1b]0;owned\x07 \x1b[2J\r\x7f\x00 done\n"
    path = hermes_home.parent / "controls.txt"
    path.write_bytes(body.encode())
    added = cli("board", "add", "t\x1b[31m", "--no-repo", "--body-file", str(path))
    assert added.code == 0, added.err
    shown = cli("board", "show", added.out.strip())
    assert shown.code == 0
    assert not {"\x1b", "\x07", "\r", "\x00"} & set(shown.out)
    assert "\\x1b]0;owned\\x07" in shown.out and "t\\x1b[31m" in shown.out
    assert "\\x7f\\x00 done" in shown.out
    assert cli("board", "show", added.out.strip(), "--json").json()["body"] == body


def test_an_error_naming_a_value_with_line_breaks_is_still_one_line(
    cli: Cli, board: Path, hermes_home: Path
) -> None:
    for odd in ("a\nb", "a\u2028b", "a\rb"):
        path = str(hermes_home.parent / f"no{odd}such")
        result = cli(*ADD, "--body-file", path)
        assert_refused(result.code, result.out, result.err, "No such file or directory")


def test_the_current_repository_without_commits(cli: Cli, board: Path, hermes_home: Path) -> None:
    before = snapshot(board)
    cwd = hermes_home.parent / "files" / "empty-repo"  # the default repo: the current one
    result = cli("board", "add", "x", cwd=cwd)
    assert_refused(result.code, result.out, result.err, "has no commits yet")
    assert snapshot(board) == before


def test_list_filters_that_match_nothing_are_not_errors(cli: Cli, board: Path) -> None:
    """A profile or label filter is a query: cards may name profiles deleted since."""
    assert cli("board", "list", "--profile", "gone", "--json").json() == []
    assert cli("board", "list", "--label", "none", "--json").json() == []
    everything = cli("board", "list", "--limit", HUGE)  # no upper bound: more than all
    assert everything.code == 0 and "parked one" in everything.out


def test_text_limits_hold_for_every_intake(store: Store) -> None:
    """Agents and other intakes reach the store directly: the same limits apply there."""
    now = utcnow()
    with pytest.raises(InvalidInput, match=r"the body 'b+'\.\.\. is 1,048,577 bytes"):
        store.add_card(NewCard("t", "shell", 3, body="b" * (MAX_TEXT_BYTES + 1)), now)
    with pytest.raises(InvalidInput, match=r"the title 'a+'\.\.\. is 10,001 characters long"):
        store.add_card(NewCard("a" * (MAX_LINE_CHARS + 1), "shell", 3), now)
    card, _ = store.add_card(NewCard("t", "shell", 3), now)
    with pytest.raises(InvalidInput, match=r"the comment 'c+'\.\.\. is 1,048,577 bytes"):
        store.comment(card, "c" * (MAX_TEXT_BYTES + 1), now)
    with pytest.raises(InvalidInput, match="not valid UTF-8"):
        store.comment(card, "caf\udce9", now)
    assert [e.kind for e in store.detail(card).events] == ["created"]


# --- the environment: a read-only home, a full disk, a damaged board ------------------

WRITES = [
    ["board", "add", "new", "--no-repo"],
    ["board", "add", "new", "--no-repo", "--json"],
    ["board", "comment", "2", "hello"],
    ["board", "move", "4", "ready"],
    ["board", "cancel", "2"],
    ["board", "dep", "add", "4", "--on", "2"],
    ["cron", "add", "0 9 * * *", "new", "--no-repo", "--json"],
    ["cron", "pause", "1"],
    ["goal", "new goal", "--no-repo", "--profile", "shell"],
]


def hermes(
    home: Path, *args: str, preexec: Callable[[], None] | None = None
) -> tuple[int, str, str]:
    """Run the CLI like the `cli` fixture, with `preexec` run in the child before exec."""
    proc = subprocess.run(
        [sys.executable, "-m", "hermes", *args],
        capture_output=True,
        cwd=home.parent,
        env={**os.environ, "COLUMNS": "120"},
        preexec_fn=preexec,
        timeout=60,
    )
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def assert_environment_fault(code: int, out: str, err: str, expected: str) -> None:
    """The environment's fault: exit 1, and otherwise like refused input."""
    assert_refused(code, out, err, expected, code=1)


def assert_healthy(db: Path) -> None:
    cx = sqlite3.connect(db)
    try:
        assert cx.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        cx.close()


def _drop_root_file_powers() -> None:
    """In the child: give up root's permission bypass, so file modes apply to it too."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        libc.prctl(24, capability, 0, 0, 0)  # PR_CAPBSET_DROP: gone after exec


def as_ordinary_user(tmp_path: Path) -> Callable[[], None] | None:
    """A preexec under which file modes bind (None: they already do); skips if impossible.

    Root ignores file modes. Rather than skip, a root run gives up that power in the
    child (the bounding set, dropped before exec); where even that is impossible, skip.
    """
    if os.geteuid() != 0:
        return None
    probe = tmp_path / "read-only-probe"
    probe.write_text("")
    probe.chmod(0o444)
    try:
        wrote = subprocess.run(
            [sys.executable, "-c", f"open({str(probe)!r}, 'a')"],
            preexec_fn=_drop_root_file_powers,
            capture_output=True,
        )
    finally:
        probe.unlink()
    if wrote.returncode == 0:
        pytest.skip("running as root with no way to give up the permission bypass")
    return _drop_root_file_powers


def test_a_read_only_home_is_an_environment_error(
    board: Path, hermes_home: Path, tmp_path: Path
) -> None:
    preexec = as_ordinary_user(tmp_path)
    skill = hermes_home.parent / "files" / "s-ok"
    skill.mkdir()
    (skill / "SKILL.md").write_text("---\nname: s-ok\ndescription: d\n---\nbody\n")
    before = snapshot(board)
    board.chmod(0o444)
    hermes_home.chmod(0o555)
    try:
        for args in [*WRITES, ["board", "list", "--json"], ["dispatcher", "start"]]:
            result = hermes(hermes_home, *args, preexec=preexec)
            assert_environment_fault(*result, f"cannot use the board database {board}")
            assert "make the file and its directory writable" in result[2]
        added = hermes(hermes_home, "skills", "add", str(skill), preexec=preexec)
        assert_environment_fault(*added, "cannot copy skill 's-ok' to")
    finally:
        hermes_home.chmod(0o755)
        board.chmod(0o644)
    assert snapshot(board) == before
    assert_healthy(board)
    assert hermes(hermes_home, "board", "add", "after", "--no-repo")[0] == 0


def _full_disk() -> None:
    """In the child: any file write past 1 KiB fails with EFBIG instead of a signal."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))


def test_a_full_disk_is_an_environment_error_and_the_board_survives(
    board: Path, hermes_home: Path
) -> None:
    before = snapshot(board)
    for args in WRITES:
        result = hermes(hermes_home, *args, preexec=_full_disk)
        assert_environment_fault(*result, f"cannot use the board database {board}")
        assert "free space" in result[2]
    skill = hermes_home.parent / "files" / "s-big"
    skill.mkdir()
    (skill / "SKILL.md").write_text("---\nname: s-big\ndescription: d\n---\n" + "b" * 4096)
    added = hermes(hermes_home, "skills", "add", str(skill), preexec=_full_disk)
    assert_environment_fault(*added, "cannot copy skill 's-big'")
    assert snapshot(board) == before
    assert_healthy(board)
    code, _, err = hermes(hermes_home, "board", "add", "after", "--no-repo")
    assert code == 0, err
    assert hermes(hermes_home, "skills", "show", "s-big")[0] == 2  # it was never half-added


def test_a_full_disk_on_first_use_leaves_a_usable_home(hermes_home: Path) -> None:
    result = hermes(hermes_home, "board", "add", "first", "--no-repo", preexec=_full_disk)
    assert_environment_fault(*result, "cannot use the board database")
    code, out, err = hermes(hermes_home, "board", "add", "first", "--no-repo")
    assert (code, out.strip()) == (0, "1"), err


def test_a_damaged_board_gives_json_commands_an_empty_stdout(cli: Cli, board: Path) -> None:
    data = board.read_bytes()
    board.write_bytes(data[: len(data) // 2])  # truncated: a crash mid-copy, say
    for args in (
        ["board", "list", "--json"],
        ["board", "show", "1", "--json"],
        ["board", "stats", "--json"],
        ["cron", "list", "--json"],
        ["dispatcher", "status", "--json"],
        ["goal", "status", "1", "--json"],
        ["board", "add", "x", "--no-repo", "--json"],
    ):
        result = cli(*args)
        assert_environment_fault(result.code, result.out, result.err, "cannot use the board")
        assert "restore it from a backup" in result.err


def test_a_broken_profile_file_is_listed_with_its_fault_beside_the_others(
    cli: Cli, hermes_home: Path
) -> None:
    (hermes_home / "profiles").mkdir(parents=True)
    (hermes_home / "profiles" / "broken.yaml").write_text("runner: command\nconcurency: 3\n")
    listed = cli("profiles", "list", "--json")
    assert listed.code == 0, listed.err
    by_name = {entry["name"]: entry for entry in listed.json()}
    assert "shell" in by_name and "default" in by_name
    assert "'concurency' is not a profile field" in by_name["broken"]["error"]
    shown = cli("profiles", "list")
    assert shown.code == 0 and "broken: profile file" in shown.out and "shell" in shown.out
