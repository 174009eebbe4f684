"""Real HTTP servers for the API tests: `hermes web` as a subprocess, or the same
service in a thread of the test, both on 127.0.0.1 and spoken to with httpx; and an
event-stream reader that collects what a server pushes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from board import CardFilter, open_store
from board.clock import utcnow
from tests.helpers.processes import wait_until


def free_port() -> int:
    """A port nothing listens on right now (the kernel's choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Web:
    """A running `hermes web` subprocess."""

    proc: subprocess.Popen[str]
    port: int
    first_line: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20) -> tuple[int, str]:
        """Signal the server and wait for it; its exit code and the rest of its output."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return self.proc.returncode, out


def start_web(*args: str, env: dict[str, str] | None = None) -> Web:
    """`python -m hermes web --port P ARGS`, once it says where it serves."""
    for _ in range(5):  # another process may take the free port first
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "hermes", "web", "--port", str(port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "serving" in line:
            return Web(proc, port, line)
        proc.communicate(timeout=20)
        if "cannot listen" not in line:
            raise AssertionError(f"hermes web did not start: {line}")
    raise AssertionError("no free port for hermes web")


@pytest.fixture
def web(hermes_home: Path) -> Iterator[Web]:
    """`hermes web` on this test's board, stopped (SIGINT) after the test."""
    server = start_web()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api(web: Web) -> Iterator[httpx.Client]:
    """An httpx client for the `web` server."""
    with httpx.Client(base_url=web.url, timeout=30) as client:
        yield client


class ThreadServer:
    """The HTTP service (`gateway.http.server.serve`) on its own event loop in a thread
    of the test: quicker to start than a subprocess, still real HTTP on 127.0.0.1."""

    def __init__(
        self, db_url: str, *, token_env: str | None = None, keepalive: float | None = None
    ) -> None:
        """`token_env` names the variable holding the token (the test sets it)."""
        from gateway.http.server import bind

        self.sock = bind("127.0.0.1", 0)
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._db_url, self._token_env, self._keepalive = db_url, token_env, keepalive
        self._loop = asyncio.new_event_loop()
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run, name="http-test-server")

    def __enter__(self) -> ThreadServer:
        self._thread.start()
        wait_until(lambda: self._reachable(), timeout=30)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._loop.call_soon_threadsafe(lambda: self._task and self._task.cancel())
        self._thread.join(timeout=30)

    def _run(self) -> None:
        from gateway.http.server import serve

        http = SimpleNamespace(host="127.0.0.1", port=self.port, token_env=self._token_env)
        service = serve(self._db_url, http, sock=self.sock, keepalive=self._keepalive)
        self._task = self._loop.create_task(service)
        try:
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        finally:
            self._loop.close()

    def _reachable(self) -> bool:
        try:
            httpx.get(f"{self.url}/api/approvals", timeout=5)
        except httpx.TransportError:
            return False
        return True


@dataclass
class SseEvent:
    """One server-sent event (or keep-alive comment) as a client reads it."""

    id: str | None = None
    event: str = "message"
    data: str = ""
    comment: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class Stream:
    """An open event stream read by a thread: `received` grows as events arrive."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    received: list[SseEvent] = field(default_factory=list)
    status: int | None = None
    ended: bool = False
    _opened: threading.Event = field(default_factory=threading.Event)
    _socket: socket.socket | None = None

    def __post_init__(self) -> None:
        self._client = httpx.Client(timeout=httpx.Timeout(30, read=None))
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        assert self._opened.wait(30), f"the stream {self.url} did not open"

    def _read(self) -> None:
        try:
            with self._client.stream("GET", self.url, headers=self.headers) as answer:
                self.status = answer.status_code
                self._socket = answer.extensions["network_stream"].get_extra_info("socket")
                self._opened.set()
                event = SseEvent()
                for line in answer.iter_lines():
                    event = self._line(event, line)
        except httpx.HTTPError:
            pass
        finally:
            self.ended = True
            self._opened.set()

    def _line(self, event: SseEvent, line: str) -> SseEvent:
        if line == "":
            if event.data or event.id is not None or event.event != "message":
                self.received.append(event)
            return SseEvent()
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "":
            self.received.append(SseEvent(comment=value))
        elif name == "data":
            event.data = f"{event.data}\n{value}" if event.data else value
        elif name in ("id", "event"):
            setattr(event, name, value)
        return event

    def events(self, kind: str = "message") -> list[SseEvent]:
        """What arrived, of one event type (comments left out)."""
        return [e for e in list(self.received) if e.comment is None and e.event == kind]

    def wait_for(self, count: int, kind: str = "message", timeout: float = 30) -> list[SseEvent]:
        """The first `count` events of `kind`, once they have arrived."""
        wait_until(lambda: len(self.events(kind)) >= count, timeout=timeout)
        return self.events(kind)[:count]

    def close(self) -> None:
        """Hang up: shutting the socket down wakes the reading thread at once."""
        if self._socket is not None and not self.ended:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=10)
        self._client.close()


@pytest.fixture
def streams() -> Iterator[list[Stream]]:
    """Event streams a test opens (`Stream(...)`), closed after it."""
    opened: list[Stream] = []
    yield opened
    for stream in opened:
        stream.close()


def board_state(db_url: str) -> dict[str, Any]:
    """Everything an API call could change: every card, the event log's end, the cron
    jobs. Equal before and after a refused request means the board is unchanged."""
    with open_store(db_url) as store:
        cards = store.list_cards(CardFilter(include_old=True), utcnow())
        cards += store.list_cards(CardFilter(include_old=True, archived=True), utcnow())
        return {
            "cards": [card.to_json() for card in cards],
            "last_event": store.last_event_id(),
            "jobs": [job.to_json() for job in store.jobs()],
        }
