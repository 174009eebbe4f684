"""The JSON API end to end: a real `hermes web` subprocess on 127.0.0.1, spoken to with
httpx, on a real board the CLI reads too. Answers are the documents `--json` prints;
every bad input is a 4xx with one `{"error"}` naming the JSON field and the fix, and
leaves the board exactly as it was."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.conftest import Cli, add
from tests.http.conftest import board_state


def card(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    """POST /api/cards; the new card's document."""
    answer = api.post("/api/cards", json={"profile": "shell", "body": "echo hi", **fields})
    assert answer.status_code == 201, answer.text
    document: dict[str, Any] = answer.json()
    return document


def test_cards_through_the_api_are_the_cli_documents(api: httpx.Client, cli: Cli) -> None:
    first = card(api, title="Build it", priority=5, labels=["web"])
    second = card(api, title="Ship it", after=[first["id"]])
    assert (first["status"], second["status"], second["source"]) == ("ready", "waiting", "api")
    assert second["depends_on"] == [first["id"]] and first["labels"] == ["web"]
    shown = api.get(f"/api/cards/{second['id']}").json()
    assert shown == cli("board", "show", str(second["id"]), "--json").json()
    assert api.get("/api/cards").json() == cli("board", "list", "--json").json()
    ready = api.get("/api/cards", params={"status": "ready"}).json()
    assert [c["id"] for c in ready] == [first["id"]]
    both = api.get("/api/cards?status=ready,waiting&label=web").json()
    assert [c["id"] for c in both] == [first["id"]]
    log = api.get(f"/api/cards/{first['id']}/log").json()
    assert log == cli("board", "log", str(first["id"]), "--json").json()
    assert log == {"card": first["id"], "runs": [], "waiting_for": None}


def test_comment_cancel_and_retry(api: httpx.Client, cli: Cli) -> None:
    made = card(api, title="Tidy up")
    said = api.post(f"/api/cards/{made['id']}/comment", json={"text": "use tabs"})
    assert said.status_code == 200, said.text
    cancelled = api.post(f"/api/cards/{made['id']}/cancel", json={"reason": "not now"})
    assert cancelled.json()["status"] == "cancelled"
    retried = api.post(f"/api/cards/{made['id']}/retry")  # no body at all is fine
    assert retried.status_code == 200 and retried.json()["status"] == "ready"
    events = cli("board", "show", str(made["id"]), "--json").json()["events"]
    kinds = [(e["kind"], e["actor"]) for e in events]
    assert ("comment", "api") in kinds and ("cancelled", "api") in kinds
    assert any(e["kind"] == "comment" and e["data"].get("text") == "use tabs" for e in events)


def test_an_idempotency_key_makes_one_card(api: httpx.Client, cli: Cli) -> None:
    headers = {"Idempotency-Key": "deploy-2026-03-01"}
    once = api.post("/api/cards", json={"title": "Deploy", "body": "true"}, headers=headers)
    twice = api.post("/api/cards", json={"title": "Deploy", "body": "true"}, headers=headers)
    assert once.status_code == twice.status_code == 201
    assert once.json()["id"] == twice.json()["id"] and once.json()["key"] == "deploy-2026-03-01"
    assert len(cli("board", "list", "--all", "--json").json()) == 1
    in_body = api.post("/api/cards", json={"title": "Deploy", "key": "deploy-2026-03-01"})
    assert in_body.json()["id"] == once.json()["id"]


def test_cron_goals_and_approvals(api: httpx.Client, cli: Cli) -> None:
    job = api.post(
        "/api/cron",
        json={"schedule": "every 10 minutes", "title": "Ping", "profile": "shell", "body": "true"},
    )
    assert job.status_code == 201, job.text
    assert job.json()["schedule"] == "every 10 minutes"
    assert api.get("/api/cron").json() == cli("cron", "list", "--json").json()
    assert [j["id"] for j in api.get("/api/cron").json()] == [job.json()["id"]]
    goal = api.post("/api/goals", json={"objective": "Ship the release", "budget": 3})
    assert goal.status_code == 201, goal.text
    goal_id = goal.json()["goal"]["id"]
    assert goal.json()["budget"] == 3 and goal.json()["goal"]["labels"] == ["goal"]
    status = api.get(f"/api/goals/{goal_id}").json()
    assert status == cli("goal", "status", str(goal_id), "--json").json()
    again = api.post(
        "/api/goals", json={"objective": "Ship the release"}, headers={"Idempotency-Key": "g1"}
    )
    same = api.post(
        "/api/goals", json={"objective": "Ship the release"}, headers={"Idempotency-Key": "g1"}
    )
    assert again.json()["goal"]["id"] == same.json()["goal"]["id"] != goal_id
    assert api.get("/api/approvals").json() == []


DEEP = "[" * 100_000 + "]" * 100_000
JSON = {"Content-Type": "application/json"}

#: (method, path, request keywords, status, words the error must contain)
BAD: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("POST", "/api/cards", {"json": {"title": 5}}, 400, "title 5 is not valid"),
    ("POST", "/api/cards", {"json": {"title": "x", "priority": "high"}}, 400, "priority"),
    ("POST", "/api/cards", {"json": {"title": "x", "colour": "red"}}, 400, "colour is not an"),
    ("POST", "/api/cards", {"json": {}}, 400, "title is missing"),
    ("POST", "/api/cards", {"json": {"title": "x", "after": [9999]}}, 400, "card 9999 does not"),
    ("POST", "/api/cards", {"json": {"title": "x", "after": ["one"]}}, 400, "after.0"),
    ("POST", "/api/cards", {"json": {"title": "x", "profile": "nope"}}, 400, "unknown profile"),
    ("POST", "/api/cards", {"json": {"title": "x", "profile": "shell"}}, 400, "no body"),
    ("POST", "/api/cards", {"json": {"title": "x", "max_attempts": 0}}, 400, "max_attempts 0"),
    ("POST", "/api/cards", {"json": {"title": "x", "at": "someday"}}, 400, "someday"),
    ("POST", "/api/cards", {"json": {"title": "x", "repo": "rel/path"}}, 400, "repo 'rel/path'"),
    ("POST", "/api/cards", {"content": "{title: x}", "headers": JSON}, 400, "not valid JSON"),
    ("POST", "/api/cards", {"content": '{"title": NaN}', "headers": JSON}, 400, "NaN"),
    ("POST", "/api/cards", {"content": DEEP, "headers": JSON}, 400, "nested too deeply"),
    ("POST", "/api/cards", {"content": b"\xff\xfe{", "headers": JSON}, 400, "not valid JSON"),
    ("POST", "/api/cards", {"json": [1, 2]}, 400, "body is an array"),
    ("POST", "/api/cards", {"content": "null", "headers": JSON}, 400, "body is null"),
    ("POST", "/api/cards", {"json": "title"}, 400, "body is a string"),
    ("POST", "/api/cards", {"content": "", "headers": JSON}, 400, "body is empty"),
    ("POST", "/api/cards", {"content": "x" * (3 << 20), "headers": JSON}, 413, "larger than"),
    ("POST", "/api/cards", {"content": '{"title": "x"}'}, 415, "Content-Type: application/json"),
    ("POST", "/api/cards", {"data": {"title": "x"}}, 415, "Content-Type: application/json"),
    (
        "POST",
        "/api/cards",
        {"content": '{"title": "x"}', "headers": {"Content-Type": "text/plain"}},
        415,
        "as JSON",
    ),
    (
        "POST",
        "/api/cards",
        {"json": {"title": "x"}, "headers": {"Idempotency-Key": ""}},
        400,
        "header is empty",
    ),
    (
        "POST",
        "/api/cards",
        {"json": {"title": "x", "key": "a"}, "headers": {"Idempotency-Key": "b"}},
        400,
        "differ",
    ),
    (
        "POST",
        "/api/cards",
        {"json": {"title": "x"}, "headers": {"Idempotency-Key": "k" * 10_001}},
        400,
        "Idempotency-Key header",
    ),
    ("GET", "/api/cards?status=bogus", {}, 400, "unknown status 'bogus'"),
    ("GET", "/api/cards?stauts=ready", {}, 400, "'stauts' is not a query parameter"),
    ("GET", "/api/cards?all=maybe", {}, 400, "all 'maybe' is not valid"),
    ("GET", "/api/cards/abc", {}, 400, "'abc' is not a card id"),
    ("GET", "/api/cards/%C2%B2", {}, 400, "is not a card id"),
    ("GET", "/api/cards/-3", {}, 400, "is not a card id"),
    ("GET", "/api/cards/0", {}, 400, "id 0 is not valid"),
    ("GET", "/api/cards/99999999999999999999", {}, 400, "is not a card id"),
    ("GET", "/api/cards/9999", {}, 404, "card 9999 does not exist"),
    ("GET", "/api/cards/9999/log", {}, 404, "card 9999 does not exist"),
    ("GET", "/api/cards/9999/log/stream", {}, 404, "card 9999 does not exist"),
    ("POST", "/api/cards/9999/cancel", {}, 404, "card 9999 does not exist"),
    ("POST", "/api/cards/1/approve", {}, 409, "card 1 is ready; it is not waiting"),
    ("POST", "/api/cards/1/reply", {"json": {"text": "yes"}}, 409, "not waiting"),
    ("POST", "/api/cards/1/retry", {}, 409, "card 1"),
    ("POST", "/api/cards/1/explode", {}, 404, "there is no action 'explode'"),
    ("POST", "/api/cards/1/comment", {"json": {}}, 400, "text is missing"),
    ("POST", "/api/cards/1/comment", {"json": {"text": 5}}, 400, "text 5 is not valid"),
    ("POST", "/api/cards/1/comment", {"json": {"id": 2, "text": "x"}}, 400, "id belongs in"),
    ("POST", "/api/cards/1/approve", {"json": {"reason": "x"}}, 400, "reason is not an"),
    ("POST", "/api/cards/1/comment", {"content": "text=hi", "headers": JSON}, 400, "not valid"),
    ("POST", "/api/cron", {"json": {"schedule": "whenever", "title": "t"}}, 400, "'whenever'"),
    ("POST", "/api/cron", {"json": {"schedule": "every 5 minutes"}}, 400, "title is missing"),
    ("POST", "/api/goals", {"json": {"objective": " "}}, 400, "objective is empty"),
    ("POST", "/api/goals", {"json": {"objective": "x", "budget": 0}}, 400, "budget 0"),
    ("GET", "/api/goals/1", {}, 400, "card 1 is not a goal"),
    ("GET", "/api/events?after=yesterday", {}, 400, "after 'yesterday' is not an event id"),
    ("GET", "/api/events", {"headers": {"Last-Event-ID": "x1"}}, 400, "Last-Event-ID header"),
    ("DELETE", "/api/cards", {}, 405, "DELETE is not allowed on /api/cards; use GET, HEAD, POST"),
    ("GET", "/api/nothing", {}, 404, "nothing is served at /api/nothing"),
]


def test_every_bad_input_is_a_clear_error_and_changes_nothing(
    api: httpx.Client, cli: Cli, db_url: str
) -> None:
    add(cli, "Already here", "--profile", "shell", "--body", "true")
    before = board_state(db_url)
    for method, path, keywords, status, words in BAD:
        answer = api.request(method, path, **keywords)
        what = f"{method} {path} {str(keywords)[:80]}"
        assert answer.status_code == status, f"{what}: {answer.status_code} {answer.text[:300]}"
        document = answer.json()
        assert list(document) == ["error"], what
        message = document["error"]
        assert words in message, f"{what}: {message}"
        assert "\n" not in message, what
        assert "--" not in message, f"{what}: a command-line flag in {message}"
        assert answer.headers["cache-control"] == "no-store", what
    assert board_state(db_url) == before


def test_text_is_kept_as_text(api: httpx.Client, cli: Cli) -> None:
    title = "<img src=x onerror=alert(1)> & \"quotes\" 'and' ünïcode"
    made = card(api, title=title, body="printf '%s' \"<b>hi</b>\"")
    answer = api.get(f"/api/cards/{made['id']}")
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert json.loads(answer.content)["title"] == title
    assert cli("board", "show", str(made["id"]), "--json").json()["title"] == title
