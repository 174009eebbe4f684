"""Goals through a real dispatcher and the real litellm client against the scripted model:
plan into cards, run them, judge; a second turn when not met; a spent budget."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from board import open_store
from tests.conftest import Cli
from tests.helpers.agents import KEY_ENV, agent_profile, call
from tests.helpers.processes import FAST, finish, make_repo, start_dispatcher
from workers.agent.fake_openai import FakeOpenAI

JUDGE = "You judge whether"


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[FakeOpenAI]]:
    monkeypatch.setenv(KEY_ENV, "sk-test")
    servers: list[FakeOpenAI] = []
    yield servers
    for server in servers:
        server.__exit__()


def planner(home: Path, servers: list[FakeOpenAI], script: list[dict[str, object]]) -> FakeOpenAI:
    server = FakeOpenAI(script).__enter__()  # type: ignore[arg-type]
    servers.append(server)
    agent_profile(home, "planner", server.url, description="plans goals", max_attempts=2)
    return server


def run_goal(cli: Cli, *args: str) -> int:
    created = cli("goal", *args, "--no-repo")
    assert created.code == 0, created.err
    code, out = finish(start_dispatcher("--until-idle", *FAST), timeout=120)
    assert code == 0, out
    return int(created.out)


@pytest.mark.engines("sqlite", "postgres")
def test_a_goal_plans_two_cards_with_a_dependency_and_is_judged_done(
    cli: Cli, model: list[FakeOpenAI], hermes_home: Path, db_url: str
) -> None:
    server = planner(
        hermes_home,
        model,
        [
            {
                "when": "planner turn 1",
                "tool_calls": [
                    call(
                        "board_add",
                        title="Write data",
                        profile="shell",
                        body="echo 42 > /dev/null; echo wrote 42",
                    ),
                    call(
                        "board_add",
                        title="Check data",
                        profile="shell",
                        depends_on=[2],
                        body="echo checked",
                    ),
                ],
            },
            {"when": "planner turn 1", "text": "Two cards: write, then check."},
            {
                "when": JUDGE,
                "tool_calls": [call("goal_verdict", done=True, reason="42 written and checked")],
            },
        ],
    )
    goal = run_goal(cli, "Write and check the data", "--budget", "3")
    with open_store(db_url) as store:
        detail, children = store.detail(goal), store.children(goal)
        started = {
            c.id: next(e.at for e in store.detail(c.id).events if e.kind == "started")
            for c in children
        }
        completed = next(e.at for e in store.detail(2).events if e.kind == "completed")
    assert (detail.card.status, detail.card.result) == ("done", "42 written and checked")
    assert [(c.id, c.status, c.parent_id, c.source, c.depends_on) for c in children] == [
        (2, "done", goal, f"goal:{goal}", []),
        (3, "done", goal, f"goal:{goal}", [2]),
    ]
    assert completed < started[3]
    kinds = [e.kind for e in detail.events]
    assert kinds.count("planned") == 1 and kinds.count("verdict") == 1
    planned = next(e for e in detail.events if e.kind == "planned")
    assert (
        planned.data["added"] == [2, 3]
        and planned.data["summary"] == "Two cards: write, then check."
    )
    judged = next(r for r in server.requests if JUDGE in r["messages"][0]["content"])
    assert [t["function"]["name"] for t in judged["tools"]] == ["goal_verdict"]
    assert judged["tool_choice"] == {"type": "function", "function": {"name": "goal_verdict"}}
    assert "### Card 2: Write data (done)\nwrote 42" in judged["messages"][1]["content"]
    system = server.requests[0]["messages"][0]["content"]
    assert "- shell (command):" in system and "- planner (agent): plans goals" in system
    report = cli("goal", "status", str(goal), "--json").json()
    assert (report["turns"], report["turns_left"], len(report["children"])) == (1, 2, 2)
    assert report["verdicts"][0]["done"] is True
    assert "met" in cli("goal", "status", str(goal)).out
    log = cli("board", "log", str(goal)).out
    assert "[agent] verdict after planner turn 1: met: 42 written and checked" in log


def test_the_planner_is_told_where_it_works(
    cli: Cli, model: list[FakeOpenAI], hermes_home: Path, tmp_path: Path
) -> None:
    server = planner(
        hermes_home,
        model,
        [
            {
                "when": "planner turn 1",
                "tool_calls": [call("board_add", title="x", profile="shell", body="true")],
            },
            {"when": "planner turn 1", "text": "one card"},
            {"when": JUDGE, "tool_calls": [call("goal_verdict", done=True, reason="ok")]},
        ],
    )
    repo = make_repo(tmp_path / "proj")
    created = cli("goal", "Do the thing", cwd=repo)
    assert created.code == 0, created.err
    code, out = finish(start_dispatcher("--until-idle", *FAST), timeout=120)
    assert code == 0, out
    system = server.requests[0]["messages"][0]["content"]
    assert f"a git worktree on branch hermes/card-{created.out.strip()}" in system
    assert "scratch directory" not in system


def test_not_met_leads_to_another_turn_that_sees_the_failed_card(
    cli: Cli, model: list[FakeOpenAI], hermes_home: Path, db_url: str
) -> None:
    server = planner(
        hermes_home,
        model,
        [
            {
                "when": "planner turn 1",
                "tool_calls": [
                    call(
                        "board_add", title="Flaky step", profile="shell", body="echo broken; exit 1"
                    )
                ],
            },
            {"when": "planner turn 1", "text": "One card."},
            {
                "when": "### Card 3:",
                "tool_calls": [call("goal_verdict", done=True, reason="fixed by card 3")],
            },
            {
                "when": JUDGE,
                "tool_calls": [call("goal_verdict", done=False, reason="card 2 failed")],
            },
            {
                "when": "planner turn 2",
                "tool_calls": [
                    call("board_add", title="Sturdy step", profile="shell", body="echo fine")
                ],
            },
            {"when": "planner turn 2", "text": "Replaced the flaky step."},
        ],
    )
    (hermes_home / "profiles" / "shell.yaml").write_text("runner: command\nmax_attempts: 1\n")
    goal = run_goal(cli, "Make the step pass", "--budget", "3")
    with open_store(db_url) as store:
        detail = store.detail(goal)
        statuses = [(c.title, c.status) for c in store.children(goal)]
    assert detail.card.status == "done" and detail.card.result == "fixed by card 3"
    assert statuses == [("Flaky step", "failed"), ("Sturdy step", "done")]
    second = next(r for r in server.requests if "planner turn 2" in r["messages"][1]["content"])
    ask = second["messages"][1]["content"]
    assert "### Card 2: Flaky step (failed)" in ask and "broken" in ask
    assert "The judge says the objective is not met yet: card 2 failed" in ask
    verdicts = [e.data for e in detail.events if e.kind == "verdict"]
    assert [(v["turn"], v["done"]) for v in verdicts] == [(1, False), (2, True)]


def test_a_spent_budget_fails_the_goal_with_the_last_reason(
    cli: Cli, model: list[FakeOpenAI], hermes_home: Path, db_url: str
) -> None:
    planner(
        hermes_home,
        model,
        [
            {
                "when": "planner turn 1",
                "tool_calls": [call("board_add", title="Try", profile="shell", body="true")],
            },
            {"when": "planner turn 1", "text": "Tried."},
            {
                "when": JUDGE,
                "tool_calls": [call("goal_verdict", done=False, reason="the report is missing")],
            },
        ],
    )
    goal = run_goal(cli, "Produce the report", "--budget", "1")
    with open_store(db_url) as store:
        detail = store.detail(goal)
    assert detail.card.status == "failed"
    assert detail.runs[-1].error == "goal not met after 1 planner turns: the report is missing"
    shown = cli("board", "show", str(goal)).out
    assert "goal not met after 1 planner turns" in shown


def test_goal_input_errors(cli: Cli) -> None:
    for args, message in (
        (["goal", "x", "--budget", "0", "--no-repo"], "--budget 0 must be between 1 and 1,000"),
        (["goal", " ", "--no-repo"], "the objective is empty"),
        (["goal", "x", "--profile", "ghost", "--no-repo"], "unknown profile 'ghost'"),
        (["goal", "status", "99"], "card 99 does not exist"),
    ):
        result = cli(*args)
        assert result.code == 2 and message in result.err, result.err
    card = cli("board", "add", "plain", "--no-repo").out.strip()
    assert "is not a goal" in cli("goal", "status", card).err
