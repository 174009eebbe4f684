"""An agent taken back while it waits for a human goes on with its conversation when its
card runs again: the question is asked again, no model call is paid twice, and the
work it had done is still in its workspace."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from board import open_store
from tests.conftest import Cli
from tests.helpers.agents import KEY_ENV, add_card, agent_profile, call, serve, tool_results
from tests.helpers.processes import FAST, dispatcher, git, make_repo, wait_until
from workers.agent.fake_openai import FakeOpenAI


@pytest.fixture(autouse=True)
def model_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")


def test_a_conversation_stopped_on_a_question_is_picked_up_again(
    cli: Cli, model: list[FakeOpenAI], hermes_home: Path, db_url: str, tmp_path: Path
) -> None:
    server = serve(
        model,
        [
            {
                "text": "Noting what I found, then asking.",
                "tool_calls": [
                    call("write_file", path="notes.md", content="found two regions\n"),
                    call("ask_human", question="Which region, eu or us?"),
                ],
            },
            {"when": "eu-west", "text": "Using eu-west."},
        ],
    )
    agent_profile(hermes_home, "ops", server.url, max_attempts=3, backend="local")
    repo = make_repo(tmp_path / "proj")
    card = add_card(cli, "Pick a region", "--profile", "ops", cwd=repo)
    with open_store(db_url) as store:
        with dispatcher(*FAST, "--grace", "0.5") as first:
            wait_until(lambda: store.card(card).status == "needs_input", timeout=30)
            first.send_signal(signal.SIGTERM)
            first.wait(timeout=20)
        assert store.card(card).status == "ready"
        assert len(server.requests) == 1
        with dispatcher(*FAST):
            wait_until(lambda: store.card(card).status == "needs_input", timeout=30)
            assert len(server.requests) == 1  # the question is asked again without a model call
            assert cli("board", "reply", str(card), "eu-west").code == 0
            wait_until(lambda: store.card(card).status == "done", timeout=30)
        detail = store.detail(card)
    assert detail.card.result == "Using eu-west."
    asked = [e.data["question"] for e in detail.events if e.kind == "needs_input"]
    assert asked == ["Which region, eu or us?", "Which region, eu or us?"]
    last = server.requests[-1]["messages"]
    assert [m["role"] for m in last] == ["system", "user", "assistant", "tool", "tool"]
    assert tool_results(server.requests[-1]) == ["wrote 18 characters to notes.md", "eu-west"]
    assert git(repo, "show", f"hermes/card-{card}:notes.md") == "found two regions"
    log = cli("board", "log", str(card)).out
    assert "going on with run 1's conversation (it waited for a human)" in log
