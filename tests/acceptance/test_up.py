"""`hermes up`: the dispatcher, the web server and the chat platforms in one process.

Run as a user runs it (a real subprocess, config.yaml in HERMES_HOME, the Telegram fake
on loopback): a card added over HTTP and one sent from the chat are both worked and the
chat hears the result; SIGTERM drains and exits 0; a service that cannot start (its port
is taken) stops the whole process with exit 1 and says which and why."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from board import Card, CardFilter, Store, open_store
from board.clock import utcnow
from tests.gateway.fake_telegram import FakeTelegram
from tests.helpers.processes import wait_until

ALICE = 111


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


def up(hermes_home: Path, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "hermes", "up", "--tick", "0.5"]
    with log.open("wb") as out:
        return subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def test_up_runs_the_dispatcher_the_web_server_and_the_chat_together(
    db_url: str, hermes_home: Path, tg: FakeTelegram, tmp_path: Path
) -> None:
    port = free_port()
    hermes_home.mkdir(parents=True, exist_ok=True)
    (hermes_home / "config.yaml").write_text(
        f"http:\n  port: {port}\n"
        f"gateway:\n  telegram:\n    api_base: {tg.api_base}\n    allow: [{ALICE}]\n"
        "    profile: shell\n"
    )
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": tg.token}
    log = tmp_path / "up.log"
    process = up(hermes_home, log, env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(f"{base}/api/status"), timeout=60)
        made = httpx.post(
            f"{base}/api/cards",
            json={"title": "from http", "profile": "shell", "body": "echo over-http"},
        )
        assert made.status_code == 201, made.text
        tg.say(ALICE, ALICE, "echo from-chat")
        with open_store(db_url) as store:
            wait_until(lambda: len(cards(store)) == 2, timeout=60)
            wait_until(lambda: all(card.status == "done" for card in cards(store)), timeout=60)
        wait_until(lambda: any(t.startswith("card 2 done") for t in tg.texts(ALICE)), 60)
        status = httpx.get(f"{base}/api/status").json()
        assert [d["state"] for d in status["dispatchers"]] == ["running"]
        assert [p["platform"] for p in status["platforms"]] == ["telegram"]
        assert status["counts"]["done"] == 2
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(30)
    text = log.read_text()
    assert code == 0, text
    assert f"the web board at http://127.0.0.1:{port}/, chat on telegram" in text
    assert "stopped" in text.splitlines()[-1]


def test_a_service_that_cannot_start_stops_up_with_exit_1(
    hermes_home: Path, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        hermes_home.mkdir(parents=True, exist_ok=True)
        (hermes_home / "config.yaml").write_text(f"http:\n  port: {port}\n")
        log = tmp_path / "up.log"
        process = up(hermes_home, log, dict(os.environ))
        code = process.wait(60)
    text = log.read_text()
    assert code == 1, text
    assert f"http stopped: cannot listen on 127.0.0.1:{port}" in text
    assert "Traceback" not in text


def test_up_refuses_to_serve_beyond_loopback_without_a_token(
    hermes_home: Path, tmp_path: Path
) -> None:
    hermes_home.mkdir(parents=True, exist_ok=True)
    (hermes_home / "config.yaml").write_text("http:\n  host: 0.0.0.0\n")
    env = {k: v for k, v in os.environ.items() if k != "HERMES_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "hermes", "up"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: host '0.0.0.0' is reachable from other machines")
    assert done.stdout == ""


def cards(store: Store) -> list[Card]:
    return store.list_cards(CardFilter(include_old=True), utcnow())


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
