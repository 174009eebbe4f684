"""Who may use the server: the bearer token on every route (event streams, the page and
/mcp included), the page's cookie, other sites' pages refused (foreign Origin, form
posts), loopback only without a token (binding and the Host header), and the headers
every answer carries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.http.auth import COOKIE
from tests.conftest import Cli, add
from tests.http.conftest import Stream, Web, board_state, start_web

TOKEN = "s3cret-token-for-tests"
BEARER = {"Authorization": f"Bearer {TOKEN}"}

#: Every kind of route: the API, both event streams, the page and its files, MCP.
ROUTES = [
    ("GET", "/"),
    ("GET", "/static/board.js"),
    ("GET", "/api/cards"),
    ("POST", "/api/cards"),
    ("GET", "/api/cards/1"),
    ("GET", "/api/cards/1/log"),
    ("GET", "/api/cards/1/log/stream"),
    ("POST", "/api/cards/1/cancel"),
    ("GET", "/api/approvals"),
    ("GET", "/api/cron"),
    ("POST", "/api/goals"),
    ("GET", "/api/events"),
    ("POST", "/mcp"),
    ("GET", "/no/such/page"),
]


@pytest.fixture
def guarded(hermes_home: Path) -> Iterator[Web]:
    """`hermes web` with HERMES_TOKEN set."""
    server = start_web(env={"HERMES_TOKEN": TOKEN})
    try:
        yield server
    finally:
        server.stop()


def test_every_route_needs_the_token(guarded: Web, cli: Cli, db_url: str) -> None:
    add(cli, "Card one", "--backlog")
    before = board_state(db_url)
    assert "token required: HERMES_TOKEN" in guarded.first_line
    with httpx.Client(base_url=guarded.url, timeout=10) as client:
        for method, path in ROUTES:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                answer = client.request(method, path, headers=headers, json={"title": "x"})
                assert answer.status_code == 401, (method, path, headers)
                assert answer.headers["www-authenticate"] == "Bearer"
                assert "needs its token" in answer.json()["error"]
            sneaked = client.request(
                method, f"{path}?token=wrong", headers={"Cookie": f"{COOKIE}={TOKEN}"}
            )
            assert sneaked.status_code == 401, (method, path)
        with_token = client.get("/api/cards/1", headers={"Authorization": f"bearer {TOKEN}"})
        assert with_token.status_code == 200 and with_token.json()["title"] == "Card one"
        in_address = client.post(f"/api/cards?token={TOKEN}", json={"title": "x"})
        assert in_address.status_code == 401  # a token in an address is never taken for a write
    assert board_state(db_url) == before


def test_the_page_takes_the_token_once_and_keeps_it_in_a_cookie(
    guarded: Web, streams: list[Stream]
) -> None:
    with httpx.Client(base_url=guarded.url, timeout=10) as browser:
        first = browser.get(f"/?token={TOKEN}&card=7")
        assert first.status_code == 303
        assert first.headers["location"] == "/?card=7"
        cookie = first.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=") and TOKEN not in cookie
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        assert browser.cookies.get(COOKIE)
        assert browser.get("/").status_code == 200
        assert browser.get("/api/cards").json() == []
        made = browser.post("/api/cards", json={"title": "From the page", "backlog": True})
        assert made.status_code == 201, made.text
        jar = {COOKIE: str(browser.cookies.get(COOKIE))}
    stream = Stream(f"{guarded.url}/api/events", headers={"Cookie": f"{COOKIE}={jar[COOKIE]}"})
    streams.append(stream)
    assert stream.status == 200
    wrong = httpx.get(f"{guarded.url}/api/cards", headers={"Cookie": f"{COOKIE}={0:064}"})
    assert wrong.status_code == 401


def test_other_sites_pages_cannot_write_even_with_the_cookie(
    guarded: Web, cli: Cli, db_url: str
) -> None:
    card = add(cli, "Precious", "--backlog")
    before = board_state(db_url)
    with httpx.Client(base_url=guarded.url, timeout=10) as browser:
        browser.get(f"/?token={TOKEN}")
        form = browser.post(f"/api/cards/{card}/cancel", data={"reason": "csrf"})
        assert form.status_code == 415
        plain = browser.post(
            "/api/cards", content='{"title": "x"}', headers={"Content-Type": "text/plain"}
        )
        assert plain.status_code == 415
        blob = browser.post("/api/cards", content='{"title": "x"}')  # no Content-Type at all
        assert blob.status_code == 415
        evil = {"Origin": "https://evil.example"}
        foreign = browser.post("/api/cards", json={"title": "x"}, headers=evil)
        assert foreign.status_code == 403 and "evil.example" in foreign.json()["error"]
        assert browser.get("/api/cards", headers={"Origin": "null"}).status_code == 403
        own = {"Origin": guarded.url}
        assert browser.post(
            f"/api/cards/{card}/comment", json={"text": "ok"}, headers=own
        ).is_success
    after = board_state(db_url)
    assert after["cards"] == before["cards"] and after["last_event"] == before["last_event"] + 1


def test_answers_carry_the_safety_headers(web: Web) -> None:
    api = httpx.get(f"{web.url}/api/cards")
    assert api.headers["x-content-type-options"] == "nosniff"
    assert api.headers["referrer-policy"] == "no-referrer"
    assert api.headers["cache-control"] == "no-store"
    for path in ("/", "/api/nothing", "/api/cards/x"):
        answer = httpx.get(f"{web.url}{path}")
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert answer.headers["referrer-policy"] == "no-referrer", path


def test_without_a_token_only_this_machine_is_served(web: Web, cli: Cli) -> None:
    for host in ("evil.example", "evil.example:80", "10.0.0.5", "127.0.0.1.evil.example", ""):
        rebound = httpx.get(f"{web.url}/api/cards", headers={"Host": host})
        assert rebound.status_code == 421, host
        assert "is not this machine" in rebound.json()["error"]
    for host in (f"127.0.0.1:{web.port}", f"localhost:{web.port}", "[::1]"):
        assert httpx.get(f"{web.url}/api/cards", headers={"Host": host}).status_code == 200
    beyond = cli("web", "--host", "0.0.0.0", "--port", str(web.port + 1))
    assert beyond.code == 2 and beyond.out == ""
    assert beyond.err.startswith("error: host '0.0.0.0' is reachable from other machines")
    assert "HERMES_TOKEN" in beyond.err and len(beyond.err.strip().splitlines()) == 1
    named = cli("web", "--host", "example.com", "--port", str(web.port + 1))
    assert named.code == 2 and "reachable from other machines" in named.err
