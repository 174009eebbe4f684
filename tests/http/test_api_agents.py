"""Approve, reject and reply over the API, on agent cards really paused in `needs_input`
by a real dispatcher and worker talking to the scripted model server through litellm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Cli
from tests.helpers.agents import KEY_ENV, agent_profile, approvals_script, serve, tool_results
from tests.helpers.processes import FAST, dispatcher, wait_until
from workers.agent.fake_openai import FakeOpenAI


@pytest.fixture(autouse=True)
def model_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")


def status(api: httpx.Client, card_id: int) -> str:
    return str(api.get(f"/api/cards/{card_id}").json()["status"])


def reach(api: httpx.Client, cards: list[int], wanted: str) -> None:
    """Wait until every card in `cards` is `wanted`."""
    wait_until(lambda: all(status(api, card) == wanted for card in cards), timeout=60)


def test_approve_reject_and_reply_over_the_api(
    api: httpx.Client, cli: Cli, model: list[FakeOpenAI], hermes_home: Path
) -> None:
    server = serve(model, approvals_script("kubectl apply -f prod.yaml", "Which region?"))
    agent_profile(hermes_home, "ops", server.url)
    ids = [
        api.post("/api/cards", json={"title": title, "profile": "ops"}).json()["id"]
        for title in ("Push it", "Deploy it", "Pick a region")
    ]
    push, deploy, ask = ids
    with dispatcher(*FAST, "--lease", "10"):
        reach(api, ids, "needs_input")
        waiting = {c["id"]: c["request"] for c in api.get("/api/approvals").json()}
        assert waiting[push]["command"] == "git push --force origin main"
        assert waiting[ask]["question"] == "Which region?"
        assert api.get(f"/api/cards/{ask}/log").json()["waiting_for"] == waiting[ask]
        wrong = api.post(f"/api/cards/{push}/reply", json={"text": "yes"})
        assert wrong.status_code in (400, 409) and "hermes board" not in wrong.json()["error"]
        assert api.post(f"/api/cards/{push}/approve").status_code == 200
        rejected = api.post(f"/api/cards/{deploy}/reject", json={"reason": "not on a Friday"})
        assert rejected.status_code == 200, rejected.text
        replied = api.post(f"/api/cards/{ask}/reply", json={"text": "eu-west"})
        assert replied.status_code == 200, replied.text
        reach(api, ids, "done")
    told = {r["messages"][1]["content"].split("\n")[0]: tool_results(r) for r in server.requests}
    assert told[f"# Card {deploy}: Deploy it"][-1] == "rejected by a human: not on a Friday"
    assert told[f"# Card {ask}: Pick a region"][-1] == "eu-west"
    assert told[f"# Card {push}: Push it"][-1].startswith("exit code")
    events: dict[int, list[dict[str, Any]]] = {
        c: cli("board", "show", str(c), "--json").json()["events"] for c in ids
    }
    assert ("approved", "api") in [(e["kind"], e["actor"]) for e in events[push]]
    assert "rejected" in [e["kind"] for e in events[deploy]]
    assert "answered" in [e["kind"] for e in events[ask]]
    again = api.post(f"/api/cards/{push}/approve")
    assert again.status_code == 409
    assert again.json() == {"error": f"card {push} is done; it is not waiting for anyone"}
    assert api.get("/api/approvals").json() == []
