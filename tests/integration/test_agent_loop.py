"""The agent runner in process, against the scripted model server through the real
litellm client, on a real board: tools, errors fed back, budgets, accounting, skills."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from board import NewCard, Store, open_store
from board.clock import utcnow
from hermes.errors import Fenced
from tests.helpers.agents import KEY_ENV, agent_profile, call, run_context, tool_results
from workers.agent.fake_openai import FakeOpenAI
from workers.attempt import Attempt
from workers.runners.agent import AgentRunner
from workers.runners.base import Outcome

#: The agent loop is the same whatever the board's engine; the tests of its board tools
#: (the writes it makes through the store) run on both.
pytestmark = pytest.mark.engines("sqlite")
both_engines = pytest.mark.engines("sqlite", "postgres")


@pytest.fixture(autouse=True)
def model_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")


class Harness:
    """One card claimed on a real store, run by the agent runner against `server`."""

    def __init__(self, store: Store, home: Path, server: FakeOpenAI, **profile: Any) -> None:
        self.store, self.home, self.server = store, home, server
        self.profile = agent_profile(home, "bot", server.url, **profile)
        self.workspace = home / "ws"
        self.attempt = Attempt(None)

    def run(self, title: str = "Do the thing", body: str = "Please do it.", **card: Any) -> Outcome:
        ctx = run_context(
            self.store,
            self.home,
            self.profile,
            self.workspace,
            attempt=self.attempt,
            title=title,
            body=body,
            **card,
        )
        self.card_id, self.run_id, self.log = ctx.card.id, ctx.run_id, ctx.log_path
        return AgentRunner().run(ctx)


@pytest.fixture
def harness(store: Store, hermes_home: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    servers: list[FakeOpenAI] = []

    def make(script: list[dict[str, Any]], **profile: Any) -> Harness:
        server = FakeOpenAI(script).__enter__()
        servers.append(server)
        return Harness(store, hermes_home, server, **profile)

    yield make
    for server in servers:
        server.__exit__()


def test_writes_a_file_runs_a_command_and_answers(harness: Any) -> None:
    h = harness(
        [
            {
                "text": "Writing it.",
                "tool_calls": [call("write_file", path="hello.txt", content="hi\n")],
                "usage": {"prompt_tokens": 900, "completion_tokens": 40},
            },
            {
                "tool_calls": [call("shell", command="cat hello.txt")],
                "usage": {"prompt_tokens": 1000, "completion_tokens": 20},
            },
            {
                "text": "Created hello.txt; cat shows 'hi'.",
                "usage": {"prompt_tokens": 1100, "completion_tokens": 15},
            },
        ]
    )
    outcome = h.run("Write hello", "Create hello.txt containing hi.")
    assert outcome.ok and outcome.result == "Created hello.txt; cat shows 'hi'."
    assert (h.workspace / "hello.txt").read_text() == "hi\n"
    assert tool_results(h.server.requests[2])[-1] == "exit code 0\nhi"
    assert outcome.usage is not None
    assert (outcome.usage.tokens_in, outcome.usage.tokens_out) == (3000, 75)
    assert outcome.usage.cost_usd == pytest.approx(
        3000 * 0.15e-6 + 75 * 0.6e-6
    )  # gpt-4o-mini prices
    first = h.server.requests[0]
    assert first["messages"][0]["role"] == "system" and "card" in first["messages"][0]["content"]
    assert first["messages"][1]["content"].startswith("# Card 1: Write hello")
    assert {t["function"]["name"] for t in first["tools"]} == {
        "shell",
        "read_file",
        "write_file",
        "edit_file",
        "list_files",
        "board_add",
        "board_comment",
        "ask_human",
        "skill_view",
        "skill_create",
    }
    log = h.log.read_text()
    assert "[model] Writing it." in log and "[tool] shell" in log and "    hi" in log
    lines = [json.loads(line) for line in h.log.with_suffix(".jsonl").read_text().splitlines()]
    assert [line["type"] for line in lines].count("tool") == 2
    assert lines[-1]["text"] == "Created hello.txt; cat shows 'hi'."


def test_tool_errors_go_back_to_the_model_which_recovers(harness: Any) -> None:
    h = harness(
        [
            {"tool_calls": [call("edit_file", path="a.txt", old="nope", new="x")]},
            {
                "tool_calls": [
                    call("read_file", path="../../etc/passwd"),
                    call("teleport", to="mars"),
                    {"name": "shell", "arguments": "{not json"},
                ]
            },
            {"tool_calls": [call("write_file", path="a.txt", content="fixed")]},
            {"text": "Recovered and wrote a.txt."},
        ]
    )
    outcome = h.run()
    assert outcome.ok and (h.workspace / "a.txt").read_text() == "fixed"
    first_error = tool_results(h.server.requests[1])[0]
    assert first_error == "error: 'a.txt' is not a file"
    escape, unknown, bad_json = tool_results(h.server.requests[2])[1:]
    assert escape == "error: path '../../etc/passwd' is outside the workspace; use a path inside it"
    assert unknown.startswith("error: there is no tool 'teleport'")
    assert bad_json.startswith("error: the arguments are not valid JSON")


@pytest.mark.parametrize(
    ("profile", "script", "message"),
    [
        (
            {"max_turns": 2},
            [{"tool_calls": [call("list_files", path=".")]}] * 3,
            "budget exceeded: max_turns 2",
        ),
        (
            {"max_tokens": 1000},
            [
                {
                    "tool_calls": [call("list_files", path=".")],
                    "usage": {"prompt_tokens": 900, "completion_tokens": 200},
                }
            ]
            * 2,
            "budget exceeded: max_tokens 1000 (1100 used)",
        ),
        (
            {"max_cost": 0.001},
            [
                {
                    "tool_calls": [call("list_files", path=".")],
                    "usage": {"prompt_tokens": 10000, "completion_tokens": 100},
                }
            ]
            * 2,
            "budget exceeded: max_cost $0.001",
        ),
        (
            {"max_seconds": 0.5},
            [{"tool_calls": [call("list_files", path=".")], "delay": 0.6}] * 2,
            "budget exceeded: max_seconds 0.5",
        ),
    ],
    ids=["turns", "tokens", "cost", "wall time"],
)
def test_each_budget_ends_the_run_failed_with_its_name(
    harness: Any, profile: dict[str, Any], script: list[dict[str, Any]], message: str
) -> None:
    outcome = harness(script, **profile).run()
    assert not outcome.ok
    assert outcome.error is not None and outcome.error.startswith(message)
    assert outcome.usage is not None and outcome.usage.tokens_in > 0


def test_a_missing_key_fails_at_once_without_calling_the_model(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)
    h = harness([{"text": "never"}])
    outcome = h.run()
    assert outcome.error == f"set {KEY_ENV} (profile 'bot', model openai/gpt-4o-mini)"
    assert h.server.requests == []


def test_requests_beyond_this_machine_are_refused_under_test(harness: Any) -> None:
    h = harness([])
    agent_profile(h.home, "bot", "https://api.openai.com/v1")
    outcome = h.run()
    assert outcome.error is not None
    assert "limited to this machine (HERMES_MODEL_HOSTS=loopback)" in outcome.error
    assert "https://api.openai.com/v1" in outcome.error


@both_engines
def test_board_tools_create_children_and_comments(harness: Any, store: Store) -> None:
    h = harness(
        [
            {"tool_calls": [call("board_add", title="First part", body="do A", profile="shell")]},
            {
                "tool_calls": [
                    call("board_add", title="Second part", depends_on=[2]),
                    call("board_add", title="Bad", depends_on=[99]),
                    call("board_comment", text="split into two cards"),
                ]
            },
            {"text": "Split the work into cards 2 and 3."},
        ]
    )
    outcome = h.run("Big job")
    assert outcome.ok
    assert tool_results(h.server.requests[1]) == ["card 2"]
    second, bad, comment = tool_results(h.server.requests[2])[1:]
    assert (second, comment) == ("card 3", "comment added")
    assert bad == "error: card 99 does not exist; see `hermes board list --all`"
    child = store.card(3)
    assert (child.parent_id, child.source, child.depends_on, child.status) == (
        1,
        "card:1",
        [2],
        "waiting",
    )
    assert store.card(2).profile == "shell" and child.profile == "default"
    assert store.detail(1).events[-1].data == {"text": "split into two cards"}


@both_engines
def test_board_writes_are_fenced_once_the_run_is_over(harness: Any, store: Store) -> None:
    h = harness([{"text": "unused"}])
    h.run()
    store.reclaim(h.run_id, utcnow(), "test")
    with pytest.raises(Fenced):
        store.comment(h.card_id, "late", utcnow(), fence=h.run_id)
    with pytest.raises(Fenced):
        store.add_card(NewCard("late child", "shell", 1), utcnow(), fence=h.run_id)


def test_skills_can_be_read_and_saved(harness: Any, store: Store, hermes_home: Path) -> None:
    h = harness(
        [
            {"tool_calls": [call("skill_view", name="result-summary")]},
            {
                "tool_calls": [
                    call("skill_create", name="ship-it", description="How we ship.", body="1. Tag.")
                ]
            },
            {"text": "Done."},
        ]
    )
    assert h.run().ok
    assert tool_results(h.server.requests[1])[0].startswith("# result-summary\n")
    assert (hermes_home / "skills" / "ship-it" / "SKILL.md").exists()
    event = store.detail(h.card_id).events[-1]
    assert (event.kind, event.data["name"]) == ("skill_saved", "ship-it")
    later = harness([{"text": "x"}])
    later.run("Another card")
    assert "- ship-it: How we ship." in later.server.requests[0]["messages"][0]["content"]


def test_the_learning_turn_saves_a_skill_after_a_long_run(
    harness: Any, store: Store, hermes_home: Path
) -> None:
    work = [{"tool_calls": [call("list_files", path=".")]}] * 5
    h = harness(
        [
            *work,
            {"text": "All five checks done."},
            {
                "when": "Before you finish",
                "tool_calls": [
                    call(
                        "skill_create",
                        name="five-checks",
                        description="Run the five checks.",
                        body="List files 5x.",
                    )
                ],
            },
        ],
        learn=True,
    )
    outcome = h.run()
    assert outcome.ok and outcome.result == "All five checks done."  # the answer, not the lesson
    learning = h.server.requests[-1]
    assert [t["function"]["name"] for t in learning["tools"]] == ["skill_view", "skill_create"]
    assert (hermes_home / "skills" / "five-checks" / "SKILL.md").exists()
    assert store.detail(h.card_id).events[-1].kind == "skill_saved"


def test_no_learning_turn_for_short_runs_or_without_learn(harness: Any) -> None:
    h = harness([{"tool_calls": [call("list_files", path=".")]}, {"text": "quick"}], learn=True)
    assert h.run().ok and len(h.server.requests) == 2


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("deny", "error: refused by this profile's policy (high risk: force push)"),
        ("auto", "exit code"),
    ],
)
def test_approval_policies_that_need_no_human(harness: Any, policy: str, expected: str) -> None:
    h = harness(
        [{"tool_calls": [call("shell", command="git push --force origin main")]}, {"text": "ok"}],
        approvals=policy,
    )
    assert h.run().ok
    assert tool_results(h.server.requests[1])[0].startswith(expected)


def test_a_human_approves_and_a_low_risk_request_approves_itself(
    harness: Any, store: Store, db_url: str
) -> None:
    h = harness(
        [
            {"tool_calls": [call("shell", command="git push --force origin main")]},
            {"tool_calls": [call("shell", command="rm -rf /tmp/hermes-test-cache-dir")]},
            {"text": "pushed and cleaned"},
        ],
        approve_low_after=0.3,
    )

    def answer_when_asked() -> None:  # a person at another terminal: their own connection
        with open_store(db_url) as human:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                waiting = human.stats(utcnow())["by_status"]["needs_input"]  # card 1, once added
                if waiting:
                    human.answer(1, utcnow(), "approved", {}, actor="tester")
                    return
                time.sleep(0.05)

    helper = threading.Thread(target=answer_when_asked)
    helper.start()
    outcome = h.run()
    helper.join()
    assert outcome.ok
    kinds = [
        (e.kind, e.actor) for e in store.detail(1).events if e.kind in ("needs_input", "approved")
    ]
    assert kinds == [
        ("needs_input", "run:1"),
        ("approved", "tester"),
        ("needs_input", "run:1"),
        ("approved", "run:1"),
    ]
    requests = [e.data for e in store.detail(1).events if e.kind == "needs_input"]
    assert (
        requests[0]["risk"] == "high" and requests[0]["command"] == "git push --force origin main"
    )
    assert requests[1]["risk"] == "low"
    assert tool_results(h.server.requests[1])[0].startswith("exit code")  # it did run
