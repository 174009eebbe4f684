"""A real pseudo-terminal for tests: a child process on a pty of a given size, and what
a person would see on it."""

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

ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|\][^\x07]*\x07|[()][A-Z0-9])")


def hermes(*args: str) -> list[str]:
    """The command line of `hermes ARGS` in this test's interpreter."""
    return [sys.executable, "-m", "hermes", *args]


class Terminal:
    """A child process on a pty of a given size, and everything it has printed so far."""

    def __init__(
        self, args: list[str], cols: int = 120, rows: int = 30, env: dict[str, str] | None = None
    ) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        environ = {**os.environ, "TERM": "xterm-256color", **(env or {})}
        environ.pop("COLUMNS", None)  # the terminal's own size decides, as for a person
        environ.pop("LINES", None)
        self.proc = subprocess.Popen(
            args, stdin=slave, stdout=slave, stderr=slave, env=environ, start_new_session=True
        )
        os.close(slave)
        self.master = master
        self.screen = b""

    def text(self) -> str:
        """What was printed, without colour and cursor escape sequences."""
        return ANSI.sub("", self.screen.decode("utf-8", "replace"))

    def read(self, timeout: float) -> None:
        """Take in what the child prints for up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self.screen += os.read(self.master, 65536)
                except OSError:
                    return

    def wait_for(self, text: str, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.text():
                return True
            self.read(0.1)
        return text in self.text()

    def last_frame(self) -> str:
        """The last full redraw of a full-screen view (it starts by homing the cursor)."""
        raw = self.screen.decode("utf-8", "replace")
        return ANSI.sub("", raw.rsplit("\x1b[H", 1)[-1])

    def close(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=10)
            self.read(0.2)
        finally:
            os.close(self.master)
        return code
