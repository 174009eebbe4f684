"""`hermes board watch` in a real pseudo-terminal and in a pipe: it draws the board,
follows changes, shows what paused cards ask, and never hides that something is hidden."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from board import NewCard, Store, open_store
from board.clock import utcnow
from tests.helpers.terminal import Terminal, hermes

APPROVAL = {
    "kind": "approval",
    "command": "git push --force origin main",
    "risk": "high",
    "reason": "force push to a shared branch",
}
QUESTION = {"kind": "question", "question": "Which region should the bucket live in?"}


def pause(store: Store, title: str, request: dict[str, str]) -> int:
    """A card that is running and then waits for a human with `request`."""
    card, _ = store.add_card(NewCard(title, "shell", 3, priority=10), utcnow())
    claim = store.claim(utcnow(), 60)
    assert claim is not None and claim.card_id == card
    assert store.pause(claim.run_id, utcnow(), request)
    return card


def test_watch_draws_columns_and_follows_changes(db_url: str, hermes_home: Path) -> None:
    with open_store(db_url) as store:
        store.add_card(NewCard("Generate fixtures", "shell", 3), utcnow())
        store.add_card(NewCard("Parked [/] idea", "shell", 3, backlog=True), utcnow())
    term = Terminal(hermes("board", "watch", "--interval", "0.05"))
    try:
        assert term.wait_for("Generate fixtures"), term.text()[-2000:]
        assert term.wait_for("Parked [/] idea"), term.text()[-2000:]  # literal, not markup
        for header in ("backlog 1", "ready 1", "running 0", "done 0"):
            assert term.wait_for(header), header
        with open_store(db_url) as store:
            store.add_card(NewCard("Arrives later", "shell", 3), utcnow())
            claim = store.claim(utcnow(), 60)
            assert claim is not None
        assert term.wait_for("Arrives later", timeout=5), term.text()[-2000:]
        assert term.wait_for("running 1", timeout=5)
    finally:
        code = term.close()
    assert code == 0  # Ctrl-C is how you leave it: not an error
    assert term.screen.endswith(b"\x1b[?25h\x1b[?1049l")  # the screen and cursor restored


@pytest.mark.parametrize(("cols", "rows"), [(120, 30), (80, 24), (60, 16)])
def test_a_small_terminal_shows_what_is_hidden_and_what_humans_are_asked(
    db_url: str, cols: int, rows: int
) -> None:
    """Columns too long for the screen end in a whole `+N more`; every paused card's
    request is shown in full under the columns, at any width."""
    with open_store(db_url) as store:
        for n in range(40):
            store.add_card(
                NewCard(f"Ready card number {n} with a long title", "shell", 3), utcnow()
            )
        push = pause(store, "Publish the release", APPROVAL)
        ask = pause(store, "Create the bucket", QUESTION)
    term = Terminal(hermes("board", "watch", "--interval", "0.05"), cols=cols, rows=rows)
    try:
        assert term.wait_for("waiting for a human"), term.text()[-3000:]
        term.read(0.5)
        frame = term.last_frame()
    finally:
        term.close()
    lines = frame.splitlines()
    assert len(lines) <= rows and all(len(line) <= cols for line in lines), frame
    rule = next(i for i, line in enumerate(lines) if line.startswith("───"))
    end = lines.index("", rule)  # a blank line, then the cards waiting for a human
    column = [line.split()[0] for line in lines[rule + 1 : end]]
    shown = [word for word in column if word.isdigit()]  # the ready column: card ids
    hidden = column[len(shown)]
    assert hidden == f"+{40 - len(shown)}", frame  # a whole number, never `+3…`
    assert f"{hidden} more" in frame
    text = " ".join(frame.split())  # folded lines read as one
    assert f"{push} approve: git push --force origin main (high risk)" in text, frame
    assert f"{ask} answer: Which region should the bucket live in?" in text, frame
    assert f"hermes board approve {push}" in text and f"hermes board reply {ask} TEXT" in text


def run_piped(db_url: str, *args: str, seconds: float) -> str:
    """`hermes board watch ARGS | cat` for `seconds` (or until it exits): what it printed."""
    proc = subprocess.Popen(
        hermes("board", "watch", *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        out, err = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert b"Traceback" not in err, err
    return out.decode()


def test_in_a_pipe_watch_prints_the_whole_board_again_on_every_change(db_url: str) -> None:
    with open_store(db_url) as store:
        for n in range(60):
            store.add_card(NewCard(f"card {n}", "shell", 3), utcnow())
        paused = pause(store, "Publish", APPROVAL)
    with subprocess.Popen(
        hermes("board", "watch", "--interval", "0.05"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            first = [proc.stdout.readline() for _ in range(8)]
            assert first[0].startswith("hermes board · 61 cards · "), first
            time.sleep(0.3)
            with open_store(db_url) as store:
                store.add_card(NewCard("Arrives later", "shell", 3), utcnow())
            deadline = time.monotonic() + 10
            lines: list[str] = []
            while time.monotonic() < deadline and "Arrives later" not in "".join(lines):
                lines.append(proc.stdout.readline())
        finally:
            proc.terminate()
    printed = "".join(first + lines)
    assert "Arrives later" in printed
    assert printed.count("hermes board · ") == 2  # once, then once per change: no clock
    assert "more" not in printed  # a pipe shows every card
    assert all(f"  {n + 1} card {n}\n" in printed for n in range(60))
    assert f"{paused} " in printed
    assert "approve: git push --force origin main (high risk)" in printed
    assert "\x1b" not in printed  # no colour, no cursor movement in a pipe


def test_once_prints_the_board_and_exits(db_url: str) -> None:
    with open_store(db_url) as store:
        store.add_card(NewCard("Only card", "shell", 3), utcnow())
    out = run_piped(db_url, "--once", seconds=20)
    assert out.startswith("hermes board · 1 card · ")
    assert "ready 1\n  1 Only card\n" in out
    assert out.count("hermes board · ") == 1
