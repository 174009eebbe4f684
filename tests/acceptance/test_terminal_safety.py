"""Text from users and agents cannot drive the terminal of the person reading the board.

A title, body, result, question or error holding escape sequences (clear screen, set the
window title, move the cursor) is printed with its control characters spelled out.
"""

from __future__ import annotations

from board import CardFilter, NewCard, open_store
from board.clock import utcnow
from hermes.cli.printable import one_line, printable
from hermes.cli.text import encode
from hermes.cli.watch import board_text, board_view
from tests.conftest import Cli, add

CLEAR = "\x1b[2J\x1b[H"
RETITLE = "\x1b]0;owned\x07"
EVIL = f"Deploy{CLEAR}now{RETITLE}\r\x9b31m"


def assert_inert(text: str) -> None:
    """No control character but tab and newline, and the escape shown as text."""
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text and "\x9b" not in text
    assert "\\x1b[2J" in text


def test_printable_spells_out_controls_and_keeps_tabs_and_newlines() -> None:
    assert printable("a\tb\nc") == "a\tb\nc"
    assert printable("x\x1b[31my\x00\x7f\x9b") == "x\\x1b[31my\\x00\\x7f\\x9b"
    assert printable("naïve ✓ 漢字") == "naïve ✓ 漢字"


def test_list_show_stats_and_status_print_escapes_as_text(cli: Cli, db_url: str) -> None:
    now = utcnow()
    with open_store(db_url) as store:
        first, _ = store.add_card(NewCard(EVIL, "shell", 3, body=EVIL, labels=[EVIL]), now)
        claim = store.claim(now, 60)
        assert claim is not None and claim.card_id == first
        store.comment(first, EVIL, now, actor=EVIL)
        store.pause(claim.run_id, now, {"kind": "question", "question": EVIL})
        second, _ = store.add_card(NewCard("second", "shell", 3), now)
        other = store.claim(now, 60)
        assert other is not None and other.card_id == second
        store.fail(other.run_id, now, EVIL, retry=False)
        # a dispatcher of a host named by its own HERMES_HOST
        store.register_dispatcher(f"{EVIL}:1:aa", now, host=EVIL, pid=1, concurrency=1, lease=30)
    for args in (
        ["board", "list"],
        ["board", "show", str(first)],
        ["board", "show", str(second)],
        ["board", "stats"],
        ["dispatcher", "status"],
    ):
        result = cli(*args)
        assert result.code == 0, result.err
        if args[1] == "stats":  # shows labels of nothing, but must not leak either
            assert "\x1b" not in result.out
        else:
            assert_inert(result.out)
    shown = cli("board", "show", str(first)).out
    assert shown.count("\\x1b[2J") >= 4  # title, body, label, question, comment


def test_cron_list_and_error_lines_are_inert(cli: Cli) -> None:
    added = cli(
        "cron", "add", "every day at 9am", EVIL, "--no-repo", "--profile", "shell", "--body", "true"
    )
    assert added.code == 0, added.err
    listed = cli("cron", "list")
    assert listed.code == 0, listed.err
    assert_inert(listed.out)
    refused = cli("board", "add", "x", "--no-repo", "--profile", EVIL)
    assert refused.code == 2
    assert "\x1b" not in refused.err and refused.err.startswith("error: ")


def test_watch_cells_are_inert(db_url: str) -> None:
    now = utcnow()
    with open_store(db_url) as store:
        store.add_card(NewCard(EVIL, "shell", 3), now)
        claim = store.claim(now, 60)
        assert claim is not None
        store.pause(claim.run_id, now, {"kind": "approval", "command": EVIL, "risk": EVIL})
        cards = store.list_cards(CardFilter(), now)
        requests = store.pending_requests()
    for lines in (board_view(cards, requests, now, 200, 20), board_text(cards, requests, now)):
        assert_inert(encode(lines, colour=False))
        assert "\x1b" not in "".join(text for line in lines for text, _ in line.spans)


def test_one_line_text_spells_out_breaks_tabs_and_direction_overrides() -> None:
    """A title is one line everywhere, and cannot make the terminal show text reversed."""
    assert one_line("a\nb\tc\r\u2028d") == "a\\nb\\tc\\x0d\\u2028d"
    assert printable("abc\u202egnp.exe") == "abc\\u202egnp.exe"
    assert printable("tab\tand\nnewline") == "tab\tand\nnewline"  # bodies keep their lines


def test_titles_with_line_breaks_read_the_same_in_every_view(cli: Cli, db_url: str) -> None:
    title = "first line\nsecond\tcolumn"
    shown = "first line\\nsecond\\tcolumn"
    card = add(cli, title, "--profile", "shell", "--body", "true")
    with open_store(db_url) as store:
        goal, _ = store.add_card(NewCard(title, "planner", 3, labels=["goal"], budget=3), utcnow())
        store.add_card(NewCard(title, "shell", 3, parent_id=goal, body="true"), utcnow())
    job = cli(
        "cron",
        "add",
        "every day at 9am",
        title,
        "--no-repo",
        "--profile",
        "shell",
        "--body",
        "true",
    )
    assert job.code == 0, job.err
    views = {
        "list": cli("board", "list"),
        "show": cli("board", "show", str(card)),
        "watch": cli("board", "watch", "--once"),
        "cron": cli("cron", "list"),
        "goal": cli("goal", "status", str(goal)),
    }
    for name, result in views.items():
        assert result.code == 0, (name, result.err)
        assert shown in result.out, (name, result.out)
        assert "\nsecond" not in result.out and "\t" not in result.out, (name, result.out)
