"""A real `hermes web` server for tests and benchmarks: a subprocess on a free loopback
port, with its own HERMES_HOME, stopped (and reaped) when done; and the browser that
looks at it (Debian's Chromium, never one Playwright downloads)."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers.processes import stop, wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NO_PLAYWRIGHT = "the playwright package is not installed (pip install -e '.[test]')"


def browser_missing() -> str | None:
    """Why no browser can look at the page here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return NO_PLAYWRIGHT
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does it)"
    return None


@dataclass(frozen=True, slots=True)
class WebServer:
    """Where a running server answers, and the token it wants (None: none)."""

    url: str
    token: str | None
    home: Path

    def get(self, path: str) -> tuple[int, Any]:
        """GET `path` with the token (when there is one): status and parsed JSON."""
        request = urllib.request.Request(self.url + path)
        if self.token is not None:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as refused:
            with refused:
                return refused.code, json.loads(refused.read() or b"null")


def free_port() -> int:
    """A port nothing listens on now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "static/icon.svg", timeout=2):
            return True
    except urllib.error.HTTPError as refused:
        refused.close()
        return True  # it answered (a token server says 401)
    except OSError:
        return False


@contextmanager
def web_server(
    home: Path, *, token: str | None = None, port: int | None = None
) -> Iterator[WebServer]:
    """`python -m hermes web --port P` on the board in `home`, for a `with` block (on
    `port`, or a free one)."""
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERMES_")}
    env.update(HERMES_HOME=str(home), HERMES_MODEL_HOSTS="loopback")
    if token is not None:
        env["HERMES_TOKEN"] = token
    proc = subprocess.Popen(
        [sys.executable, "-m", "hermes", "web", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until(lambda: proc.poll() is not None or _answers(url), timeout=30)
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"hermes web exited with {proc.returncode}:\n{out}")
        yield WebServer(url, token, home)
    finally:
        stop(proc, timeout=15)
