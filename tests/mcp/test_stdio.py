"""`hermes mcp serve`: the board's tools over stdio, driven by the real MCP client
against the real command in a subprocess, on this test's board."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.conftest import Cli
from tests.helpers.agents import KEY_ENV, agent_profile, call, serve, tool_results
from tests.helpers.processes import (
    FAST,
    dispatcher,
    finish,
    local_shell,
    make_repo,
    start_dispatcher,
)
from tests.mcp.clients import CONTRACT_TOOLS, over_stdio, tool, tool_error
from workers.agent.fake_openai import FakeOpenAI


def cards(cli: Cli) -> list[int]:
    """Every card's id, as the CLI sees the board."""
    return [card["id"] for card in cli("board", "list", "--all", "--json").json()]


@pytest.mark.parametrize("mode", ["auto", "legacy"])  # 2026 and handshake-era clients
def test_the_tools_are_exactly_the_contract_s(mode: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with over_stdio(tmp_path, mode) as client:
            listed = (await client.list_tools()).tools
            assert [t.name for t in listed] == CONTRACT_TOOLS
            add = next(t for t in listed if t.name == "board_add")
            assert add.description == "Add a card (or find the one with the same key)."
            assert add.input_schema["required"] == ["title"]
            assert add.input_schema["additionalProperties"] is False
            assert add.input_schema["properties"]["after"]["type"] == "array"
            show = next(t for t in listed if t.name == "board_show")
            assert show.annotations is not None and show.annotations.read_only_hint

    anyio.run(scenario)


def test_cards_goals_and_schedules_through_stdio(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "notes"  # not a repository: cards made here have none
    folder.mkdir()
    made: dict[str, int] = {}

    async def scenario() -> None:
        async with over_stdio(folder) as client:
            card = await tool(
                client, "board_add", title="Tidy up", body="echo tidy", profile="shell"
            )
            made["card"] = card["id"]
            assert (card["source"], card["repo"], card["status"]) == ("mcp", None, "ready")
            listed = await tool(client, "board_list", status=["ready"])
            assert [c["id"] for c in listed] == [card["id"]]
            commented = await tool(client, "board_comment", id=card["id"], text="use -q")
            assert commented["id"] == card["id"]
            log = await tool(client, "board_log", id=card["id"])
            assert log == {"card": card["id"], "runs": [], "waiting_for": None}
            cancelled = await tool(client, "board_cancel", id=card["id"], reason="not today")
            assert cancelled["status"] == "cancelled"
            assert (await tool(client, "board_retry", id=card["id"]))["status"] == "ready"
            goal = await tool(client, "goal_add", objective="Ship the notes app", no_repo=True)
            made["goal"] = goal["goal"]["id"]
            assert (goal["budget"], goal["turns"], goal["children"]) == (20, 0, [])
            assert await tool(client, "goal_status", id=made["goal"]) == goal
            job = await tool(
                client,
                "cron_add",
                schedule="every 10 minutes",
                title="Check the notes",
                body="true",
                profile="shell",
            )
            jobs = await tool(client, "cron_list")
            assert [j["id"] for j in jobs] == [job["id"]]
            shown = await tool(client, "board_show", id=card["id"])
            shown_at["card"] = shown

    shown_at: dict[str, dict[str, Any]] = {}
    anyio.run(scenario)
    # What the tools said is what the CLI sees: one board, one document.
    shown = shown_at["card"]
    assert shown == cli("board", "show", str(made["card"]), "--json").json()
    (comment,) = [e for e in shown["events"] if e["kind"] == "comment"]
    assert comment["actor"] == "mcp"
    goal = cli("board", "show", str(made["goal"]), "--json").json()
    assert goal["source"] == "mcp" and "goal" in goal["labels"]


def test_bad_input_is_a_tool_error_naming_the_field_and_the_board_is_unchanged(
    cli: Cli, tmp_path: Path
) -> None:
    cli("board", "add", "Already here", "--no-repo")
    before = cards(cli)
    said: dict[str, str] = {}

    async def scenario() -> None:
        async with over_stdio(tmp_path) as client:
            said["missing"] = await tool_error(client, "board_add", body="no title")
            said["type"] = await tool_error(client, "board_add", title=7)
            said["extra"] = await tool_error(client, "board_add", title="x", priorty=3)
            said["profile"] = await tool_error(client, "board_add", title="x", profile="nope")
            said["unknown"] = await tool_error(client, "board_show", id=999)
            said["state"] = await tool_error(client, "board_approve", id=before[0])
            said["cron"] = await tool_error(
                client, "cron_add", schedule="every blue moon", title="x"
            )
            said["tool"] = await tool_error(client, "board_delete", id=1)

    anyio.run(scenario)
    assert said["missing"] == "title is missing; add title: what the card is about, in one line"
    assert said["type"] == "title 7 is not valid: input should be a valid string"
    assert said["extra"].startswith("priorty is not an argument here; the arguments are ")
    assert "unknown profile 'nope'" in said["profile"]
    assert "999" in said["unknown"]
    assert f"card {before[0]} is ready; it is not waiting for anyone" in said["state"]
    assert "every blue moon" in said["cron"]
    assert said["tool"].startswith("there is no tool 'board_delete'; the tools are board_add")
    for message in said.values():
        assert "--" not in message and "hermes board" not in message  # no CLI wording
    assert cards(cli) == before
    assert cli("cron", "list", "--json").json() == []


def test_a_relative_or_absent_repo_is_the_client_s_folder_and_context_finds_the_card(
    cli: Cli, hermes_home: Path, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "app")
    shell = local_shell(hermes_home)
    built = cli("board", "add", "Build", "--profile", shell, "--body", "echo ok", cwd=repo)
    code, out = finish(start_dispatcher("--until-idle", *FAST))
    assert code == 0, out
    card_id = int(built.out)
    worktree = Path(cli("board", "show", str(card_id), "--json").json()["worktree"])
    inside = worktree / "src"
    inside.mkdir()
    found: dict[str, object] = {}

    async def scenario() -> None:
        async with over_stdio(repo) as client:
            here = await tool(client, "board_add", title="Next step", backlog=True)
            dotted = await tool(client, "board_add", title="Also", repo=".", backlog=True)
            found["repos"] = (here["repo"], dotted["repo"])
            found["by_path"] = await tool(client, "board_context", path=str(worktree))
            found["outside"] = await tool_error(client, "board_context")
        async with over_stdio(inside) as client:  # started inside the card's worktree
            found["here"] = await tool(client, "board_context")

    anyio.run(scenario)
    assert found["repos"] == (str(repo), str(repo))
    assert found["by_path"] == found["here"]
    here = found["here"]
    assert isinstance(here, dict) and here["id"] == card_id
    assert found["outside"] == f"{repo.resolve()} is not inside a card's worktree"


def test_an_agent_paused_for_a_person_is_answered_through_mcp(
    cli: Cli,
    model: list[FakeOpenAI],
    hermes_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")
    server = serve(
        model,
        [
            {"when": "Clean the build", "tool_calls": [call("shell", command="rm -rf build")]},
            {"when": "Pick a region", "tool_calls": [call("ask_human", question="eu or us?")]},
            {"when": "exit code", "text": "Cleaned."},
            {"when": "eu-west", "text": "Using eu-west."},
        ],
    )
    # Deleting is held for a person under this profile's own rule.
    agent_profile(hermes_home, "careful", server.url, approvals={"ask": ["rm -rf *"]})
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        async with over_stdio(tmp_path) as client:
            clean = await tool(
                client, "board_add", title="Clean the build", profile="careful", no_repo=True
            )
            pick = await tool(
                client, "board_add", title="Pick a region", profile="careful", no_repo=True
            )
            with dispatcher(*FAST, "--lease", "10"):
                for card in (clean, pick):
                    await status_becomes(client, card["id"], "needs_input")
                seen["request"] = (await tool(client, "board_log", id=clean["id"]))["waiting_for"]
                await tool(client, "board_approve", id=clean["id"])
                await tool(client, "board_reply", id=pick["id"], text="eu-west")
                for card in (clean, pick):
                    seen[card["title"]] = await status_becomes(client, card["id"], "done")

    anyio.run(scenario)
    request = seen["request"]
    assert (request["kind"], request["command"]) == ("approval", "rm -rf build")
    assert seen["Clean the build"]["result"] == "Cleaned."
    assert seen["Pick a region"]["result"] == "Using eu-west."
    told = {r["messages"][1]["content"].split("\n")[0]: tool_results(r) for r in server.requests}
    clean_told = next(results for first, results in told.items() if "Clean the build" in first)
    assert clean_told[-1].startswith("exit code 0")


async def status_becomes(client: Any, card_id: int, status: str) -> dict[str, Any]:
    """The card once it has `status` (asked through the tools); a generous bound, since
    the dispatcher warms its agent worker template first and test machines are busy."""
    with anyio.fail_after(120):
        while True:
            card: dict[str, Any] = await tool(client, "board_show", id=card_id)
            if card["status"] == status:
                return card
            await anyio.sleep(0.1)


def test_stdout_carries_only_the_protocol_and_the_server_ends_with_stdin(tmp_path: Path) -> None:
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "0"},
        },
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "hermes", "mcp", "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        text=True,
    )
    try:
        out, err = proc.communicate(json.dumps(hello) + "\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    (line,) = out.splitlines()  # one answer to one request, nothing else
    answer = json.loads(line)
    assert answer["id"] == 1 and answer["result"]["serverInfo"]["name"] == "hermes"
    assert "Traceback" not in err
