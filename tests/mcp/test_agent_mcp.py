"""MCP servers as tools of hermes' own agents: a profile's `mcp_servers`, run in process
by the agent runner against the scripted model server (the real litellm client) and a
real stdio MCP server written for the tests (`echo_server.py`)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from board import Store, open_store
from tests.conftest import Cli
from tests.helpers.agents import (
    KEY_ENV,
    add_card,
    agent_profile,
    call,
    run_context,
    serve,
    tool_results,
)
from tests.helpers.processes import FAST, finish, gone, start_dispatcher, wait_until
from workers.agent.fake_openai import FakeOpenAI
from workers.agent.mcp_client import McpServerError
from workers.agent.toolbox import SPECS
from workers.attempt import Attempt
from workers.runners.agent import AgentRunner
from workers.runners.base import Outcome

ECHO = str(Path(__file__).with_name("echo_server.py"))


@pytest.fixture(autouse=True)
def model_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test-key-never-shown")


def echo_server(pid_file: Path, **extra: Any) -> dict[str, Any]:
    """The profile entry that starts `echo_server.py`."""
    env = {"ECHO_PID_FILE": str(pid_file), **extra.pop("env", {})}
    return {"name": "echo", "command": sys.executable, "args": [ECHO], "env": env, **extra}


class Run:
    """One card of an agent profile with MCP servers, worked in process."""

    def __init__(self, store: Store, home: Path, server: FakeOpenAI) -> None:
        self.store, self.home, self.server = store, home, server
        self.workspace = home / "ws"
        self.attempt = Attempt(None)

    def __call__(self, **profile: Any) -> Outcome:
        name = agent_profile(self.home, "mcp-bot", self.server.url, **profile)
        ctx = run_context(self.store, self.home, name, self.workspace, attempt=self.attempt)
        self.log = ctx.log_path
        return AgentRunner().run(ctx)

    def offered(self, request: int = 0) -> list[str]:
        """The tool names the model was offered in one request."""
        return [tool["function"]["name"] for tool in self.server.requests[request]["tools"]]


@pytest.fixture
def run(store: Store, hermes_home: Path, model: list[FakeOpenAI]) -> Iterator[Any]:
    def make(script: list[dict[str, Any]]) -> Run:
        server = FakeOpenAI(script).__enter__()
        model.append(server)
        return Run(store, hermes_home, server)

    yield make


def test_the_agent_calls_a_tool_of_its_mcp_server(run: Any, tmp_path: Path) -> None:
    pid_file = tmp_path / "echo.pid"
    r = run(
        [
            {"tool_calls": [call("mcp__echo__echo", text="hello there")]},
            {"tool_calls": [call("mcp__echo__surroundings")]},
            {"text": "The server said hello back."},
        ]
    )
    outcome = r(mcp_servers=[echo_server(pid_file, env={"GREETING": "hi"})])
    assert outcome.ok and outcome.result == "The server said hello back."
    echoed, surroundings = tool_results(r.server.requests[2])
    assert echoed == "echo: hello there"
    # It runs on the host, in the card's workspace, with a minimal environment: never
    # the provider key hermes keeps from card work (Python may add LC_CTYPE itself).
    where, _, names = surroundings.partition(" env=")
    assert where == f"cwd={r.workspace.resolve()}"
    assert set(names.split(",")) - {"LC_CTYPE"} <= {
        "PATH",
        "HOME",
        "LANG",
        "ECHO_PID_FILE",
        "GREETING",
    }
    assert {"PATH", "ECHO_PID_FILE", "GREETING"} <= set(names.split(","))
    offered = r.offered()
    assert {"mcp__echo__echo", "mcp__echo__fail", "mcp__echo__hidden_tool"} <= set(offered)
    assert r.offered(1) == offered  # listed once, offered the same on every turn
    tools = {t["function"]["name"]: t["function"] for t in r.server.requests[0]["tools"]}
    assert tools["mcp__echo__echo"]["description"] == "Say the text back. (MCP server echo)"
    assert tools["mcp__echo__echo"]["parameters"]["required"] == ["text"]
    log = r.log.read_text()
    assert "echo server ready" in log and log.count("started `") == 1
    assert gone(int(pid_file.read_text()))  # stopped with the run


def test_a_failing_mcp_tool_goes_back_to_the_model_as_an_error(run: Any, tmp_path: Path) -> None:
    r = run(
        [
            {"tool_calls": [call("mcp__echo__fail", reason="boom")]},
            {"tool_calls": [call("mcp__echo__echo", wrong="argument")]},
            {"text": "Both failed; reporting it."},
        ]
    )
    outcome = r(mcp_servers=[echo_server(tmp_path / "pid")])
    assert outcome.ok
    failed, misused = tool_results(r.server.requests[2])
    assert failed.startswith("error: ") and "failed on purpose: boom" in failed
    assert misused.startswith("error: ") and "text" in misused


def test_allowed_tools_narrows_what_the_agent_is_offered(run: Any, tmp_path: Path) -> None:
    r = run(
        [
            {"tool_calls": [call("mcp__echo__hidden_tool")]},
            {"text": "That tool is not mine."},
        ]
    )
    outcome = r(
        mcp_servers=[echo_server(tmp_path / "pid")],
        allowed_tools=["read_file", "list_files", "mcp__echo__echo"],
    )
    assert outcome.ok
    assert r.offered() == ["read_file", "list_files", "mcp__echo__echo"]
    (refusal,) = tool_results(r.server.requests[1])
    assert refusal.startswith("error: there is no tool 'mcp__echo__hidden_tool'")


def test_a_halted_attempt_ends_a_tool_call_at_once_and_kills_the_server(
    run: Any, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    r = run([{"tool_calls": [call("mcp__echo__sleep", seconds=600)]}, {"text": "never"}])

    def halt_during_the_call() -> None:  # as the worker does at the card's deadline
        wait_until(lambda: r.server.requests and pid_file.exists(), timeout=60)
        time.sleep(0.5)  # the call is under way
        r.attempt.halt("timeout", "timed out after 1s")

    halting = threading.Thread(target=halt_during_the_call)
    halting.start()
    outcome = r(mcp_servers=[echo_server(pid_file)])
    halting.join()
    assert not outcome.ok and outcome.error == "stopped"
    assert gone(int(pid_file.read_text()))
    assert len(r.server.requests) == 1  # the model was not asked again


def test_a_server_command_that_does_not_exist_fails_the_attempt_for_good(run: Any) -> None:
    r = run([{"text": "never asked"}])
    ghost = {"name": "ghost", "command": "no-such-mcp-server", "args": ["--stdio"]}
    with pytest.raises(McpServerError) as failed:  # the worker fails the attempt with it
        r(mcp_servers=[ghost])
    assert not failed.value.retryable
    message = str(failed.value)
    assert message.startswith("MCP server 'ghost': command 'no-such-mcp-server' not found")
    assert "`no-such-mcp-server --stdio`" in message
    assert r.server.requests == []  # the model is never called


def test_a_server_that_dies_at_start_fails_the_attempt_with_its_name(
    run: Any, tmp_path: Path
) -> None:
    r = run([{"text": "never asked"}])
    crash = {
        "name": "crash",
        "command": sys.executable,
        "args": ["-c", "import sys; print('no config', file=sys.stderr); sys.exit(3)"],
    }
    with pytest.raises(McpServerError) as failed:
        r(mcp_servers=[echo_server(tmp_path / "pid"), crash])
    assert failed.value.retryable  # it may start next time
    message = str(failed.value)
    assert message.startswith(f"MCP server 'crash' (`{sys.executable} -c")
    assert message.endswith("see its output in the run log")
    assert "no config" in r.log.read_text()
    assert gone(int((tmp_path / "pid").read_text()))  # the one that started is stopped
    assert r.server.requests == []


def test_through_a_dispatcher_the_card_uses_the_tool_or_fails_naming_the_server(
    cli: Cli, model: list[FakeOpenAI], hermes_home: Path, db_url: str, tmp_path: Path
) -> None:
    server = serve(
        model,
        [
            {"when": "Say hi", "tool_calls": [call("mcp__echo__echo", text="hi")]},
            {"when": "echo: hi", "text": "The echo server said hi."},
        ],
    )
    agent_profile(hermes_home, "echoing", server.url, mcp_servers=[echo_server(tmp_path / "pid")])
    ghost = {"name": "ghost", "command": "no-such-mcp-server"}
    agent_profile(hermes_home, "haunted", server.url, mcp_servers=[ghost], max_attempts=3)
    hi = add_card(cli, "Say hi", "--profile", "echoing", "--no-repo")
    boo = add_card(cli, "Say boo", "--profile", "haunted", "--no-repo")
    code, out = finish(start_dispatcher("--until-idle", *FAST))
    assert code == 0, out
    with open_store(db_url) as store:
        done, failed = store.detail(hi), store.detail(boo)
    assert done.card.status == "done" and done.card.result == "The echo server said hi."
    assert failed.card.status == "failed" and len(failed.runs) == 1  # no retry can fix it
    error = failed.runs[0].error or ""
    assert error.startswith("MCP server 'ghost': command 'no-such-mcp-server' not found")
    assert gone(int((tmp_path / "pid").read_text()))


def test_the_builtin_tool_names_profiles_accept_are_the_toolbox_s() -> None:
    from profiles.model import BUILTIN_TOOLS

    assert set(BUILTIN_TOOLS) == set(SPECS)
