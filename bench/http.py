"""HTTP server benchmarks, against a real `hermes web` subprocess on 127.0.0.1:

- board event committed -> received by a server-sent-events client (`/api/events`),
  p50/p99, one client and twenty at once (the slowest of the twenty for each event),
  beside a client that polls the API every 0.3 s as the seed system's dashboard does,
  measured on the same events in the same run (expected: about 150 ms at p50, 300 ms at
  p99). Goal: p99 under 50 ms. The commit is made by this process through the store,
  as the CLI or a worker makes it; the clock is this process's, on both ends.
- `POST /api/cards` per second, from one keep-alive client and from four at once,
  beside `hermes.intake.add_card` on a store in this process (the same work without
  HTTP, JSON or the server's thread hop).

Run with `python -m bench http`.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import httpx

from bench.common import ROOT, Row, Size, hermes_env, latency_rows, median, pick, wait_for
from board import NewCard, Store, open_store
from board.clock import utcnow

SECTION = "http"
POLL = 0.3  # the seed system's dashboard
GOAL = "goal: p99 under 50 ms"
FANOUT = 20
WRITERS = 4
ROUNDS = 3


def run(workdir: Path, size: Size) -> list[Row]:
    """Both HTTP figures, each next to its reference."""
    samples = pick(size, 5, 60, 300)
    posts = pick(size, 12, 150, 600)  # per round
    home = workdir / "home"
    home.mkdir()
    rates: dict[str, list[float]] = {"reference": [], "sequential": [], "parallel": []}
    with web_server(home) as url:
        single, polled = event_latency(home, url, samples, clients=1, poller=True)
        many, _ = event_latency(home, url, samples, clients=FANOUT, poller=False)
        # interleaved rounds: the disk's fsync time drifts, and it dominates every add
        for n in range(ROUNDS):
            rates["reference"].append(intake_per_second(workdir / f"reference-{n}", posts))
            rates["sequential"].append(posts_per_second(url, posts, writers=1))
            rates["parallel"].append(posts_per_second(url, posts, writers=WRITERS))
    in_process, sequential, parallel = (median(rates[k]) for k in rates)
    poller = f"a client polling GET /api/cards every {POLL:g} s (the seed dashboard), same events"
    rows = [
        *latency_rows(SECTION, "event commit -> SSE client", single, polled, poller, GOAL),
        *latency_rows(
            SECTION, f"event commit -> last of {FANOUT} SSE clients", many, polled, poller, GOAL
        ),
    ]
    reference = "hermes.intake.add_card on a store, in process"
    rows.append(
        Row(SECTION, "POST /api/cards, 1 client", sequential, "cards/s", in_process, reference)
    )
    rows.append(
        Row(
            SECTION,
            f"POST /api/cards, {WRITERS} clients",
            parallel,
            "cards/s",
            in_process,
            reference,
        )
    )
    return rows


@contextmanager
def web_server(home: Path) -> Iterator[str]:
    """`hermes web` on the board in `home`; its base URL. Stopped with SIGINT after."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "hermes", "web", "--port", str(port)],
        env=hermes_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "serving" not in line:
            raise RuntimeError(f"hermes web did not start: {line}{proc.stdout.read()}")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


class Listener:
    """An SSE client on its own thread: when it saw each card's `created` event."""

    def __init__(self, url: str) -> None:
        self.seen: dict[int, float] = {}
        self._ready = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(30, read=None))
        self._socket: socket.socket | None = None
        self._thread = threading.Thread(target=self._read, args=(url,), daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the event stream did not open")

    def _read(self, url: str) -> None:
        try:
            with self._client.stream("GET", f"{url}/api/events") as answer:
                self._socket = answer.extensions["network_stream"].get_extra_info("socket")
                self._ready.set()
                for line in answer.iter_lines():
                    if line.startswith("data: "):
                        event = json.loads(line[6:])
                        if event["kind"] == "created":
                            self.seen[event["card_id"]] = time.perf_counter()
        except (httpx.HTTPError, OSError):
            pass

    def close(self) -> None:
        if self._socket is not None:
            try:
                self._socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=10)
        self._client.close()


class Poller:
    """The reference: a client that asks for the board every `POLL` seconds."""

    def __init__(self, url: str) -> None:
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._client = httpx.Client(base_url=url, timeout=30)
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(POLL):
            cards = self._client.get("/api/cards", params={"label": "bench"}).json()
            now = time.perf_counter()
            for card in cards:
                self.seen.setdefault(card["id"], now)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._client.close()


def event_latency(
    home: Path, url: str, samples: int, *, clients: int, poller: bool
) -> tuple[list[float], list[float]]:
    """Seconds from a card's commit to its event at the slowest of `clients` streams
    (and at the poller, when asked), for `samples` cards committed one at a time."""
    listeners = [Listener(url) for _ in range(clients)]
    polling = Poller(url) if poller else None
    watchers: list[Listener | Poller] = [*listeners, *([polling] if polling else [])]
    pushed: list[float] = []
    polled: list[float] = []
    store = open_store(f"sqlite:///{home / 'board.db'}")
    try:
        for n in range(samples):
            # not in step with the server's 20 ms change poll, nor with the poller's tick
            time.sleep(random.uniform(0, POLL if polling else 0.02))
            card_id, committed = commit(store, n)
            wait_for(partial(seen_by_all, watchers, card_id))
            pushed.append(max(listener.seen[card_id] for listener in listeners) - committed)
            if polling is not None:
                polled.append(polling.seen[card_id] - committed)
    finally:
        store.close()
        for watcher in watchers:
            watcher.close()
    return pushed, polled or pushed


def seen_by_all(watchers: list[Listener | Poller], card_id: int) -> bool:
    """Whether every watcher has seen the card."""
    return all(card_id in watcher.seen for watcher in watchers)


def commit(store: Store, n: int) -> tuple[int, float]:
    """Add a card; its id and the moment the add had committed."""
    card_id, _ = store.add_card(
        NewCard(f"bench {n}", "shell", 1, body="true", labels=["bench"], backlog=True), utcnow()
    )
    return card_id, time.perf_counter()


def posts_per_second(url: str, posts: int, *, writers: int) -> float:
    """Cards per second added through `POST /api/cards` by `writers` keep-alive clients."""
    each = max(1, posts // writers)

    def write(worker: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            for n in range(each):
                body = {"title": f"posted {worker}.{n}", "body": "true", "profile": "shell"}
                answer = client.post("/api/cards", json={**body, "backlog": True})
                answer.raise_for_status()

    write(-1)  # warm up the connection path once
    start = time.perf_counter()
    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(write, range(writers)))
    return each * writers / (time.perf_counter() - start)


def intake_per_second(home: Path, posts: int) -> float:
    """The reference: `add_card` through the intake on a store, in this process."""
    from hermes.intake import CardRequest, add_card

    home.mkdir()
    with environment(HERMES_HOME=str(home)), open_store(f"sqlite:///{home / 'board.db'}") as store:

        def add(n: int) -> None:
            request = CardRequest(f"added {n}", body="true", profile="shell", no_repo=True)
            add_card(store, request, utcnow())

        add(-1)
        start = time.perf_counter()
        for n in range(posts):
            add(n)
        return posts / (time.perf_counter() - start)


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Variables set for this process while the block runs."""
    old = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
