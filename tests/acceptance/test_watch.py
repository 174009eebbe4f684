"""`hermes board watch` in a real pseudo-terminal: it draws the board and follows changes."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from board import NewCard, open_store
from board.clock import utcnow

ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|\][^\x07]*\x07|[()][A-Z0-9])")


class Terminal:
    """A child process on a pty of a given size, and everything it has printed so far."""

    def __init__(self, args: list[str], cols: int = 120, rows: int = 30) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)}
        self.proc = subprocess.Popen(
            args, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.master = master
        self.screen = b""

    def text(self) -> str:
        """What was printed, without colour and cursor escape sequences."""
        return ANSI.sub("", self.screen.decode("utf-8", "replace"))

    def wait_for(self, text: str, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.text():
                return True
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.screen += os.read(self.master, 65536)
                except OSError:
                    break
        return text in self.text()

    def close(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=10)
        finally:
            os.close(self.master)
        return code


def test_watch_draws_columns_and_follows_changes(db_url: str, hermes_home: Path) -> None:
    with open_store(db_url) as store:
        store.add_card(NewCard("Generate fixtures", "shell", 3), utcnow())
        store.add_card(NewCard("Parked [/] idea", "shell", 3, backlog=True), utcnow())
    term = Terminal([sys.executable, "-m", "hermes", "board", "watch", "--interval", "0.05"])
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
