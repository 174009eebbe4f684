"""Agent profiles pointed at the scripted model server, for tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from workers.agent.fake_openai import FakeOpenAI

if TYPE_CHECKING:
    from board import Store
    from tests.conftest import Cli
    from workers.attempt import Attempt
    from workers.runners.base import RunContext

KEY_ENV = "HERMES_TEST_MODEL_KEY"


def agent_profile(home: Path, name: str, api_base: str, **fields: Any) -> str:
    """Write `$HERMES_HOME/profiles/<name>.yaml` for an agent on `api_base`; returns name."""
    folder = home / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    profile = {
        "runner": "agent",
        "model": "openai/gpt-4o-mini",
        "api_base": api_base,
        "api_key_env": KEY_ENV,
        "max_attempts": 1,
        "timeout": 120,
        **fields,
    }
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(profile))
    return name


def serve(servers: list[FakeOpenAI], script: list[dict[str, Any]]) -> FakeOpenAI:
    """Start a scripted model server; the `model` fixture stops it after the test."""
    server = FakeOpenAI(script).__enter__()
    servers.append(server)
    return server


def add_card(cli: Cli, title: str, *args: str, cwd: Path | None = None) -> int:
    """`hermes board add TITLE ARGS` in `cwd` (its repository, if any); returns the id."""
    result = cli("board", "add", title, *args, cwd=cwd)
    assert result.code == 0, result.err
    return int(result.out)


def call(tool: str, /, **arguments: Any) -> dict[str, Any]:
    """One scripted tool call."""
    return {"name": tool, "arguments": arguments}


def approvals_script(
    second: str, question: str, rejected: str = "Left production alone."
) -> list[dict[str, Any]]:
    """A model's script for three cards that each pause for a person: card 1 a force
    push to approve, card 2 `second` to reject (answered `rejected`), card 3 `question`
    to reply `eu-west` to; every door (command line, API, web page, chat) answers them."""
    return [
        {"when": "Card 1:", "tool_calls": [call("shell", command="git push --force origin main")]},
        {"when": "Card 2:", "tool_calls": [call("shell", command=second)]},
        {"when": "Card 3:", "tool_calls": [call("ask_human", question=question)]},
        {"when": "exit code", "text": "Pushed (or tried to)."},
        {"when": "rejected by a human", "text": rejected},
        {"when": "eu-west", "text": "Using eu-west."},
    ]


def tool_results(request: dict[str, Any]) -> list[str]:
    """The tool results a model request carried (what the model was told)."""
    return [m["content"] for m in request["messages"] if m.get("role") == "tool"]


def run_context(
    store: Store,
    home: Path,
    profile: str,
    workspace: Path,
    *,
    attempt: Attempt | None = None,
    repo_git: Path | None = None,
    title: str = "Do the thing",
    body: str = "Please do it.",
    **card: Any,
) -> RunContext:
    """A card added and claimed on `store`, and its runner's context, built the way the
    worker builds it (backend, environment without secrets, masker)."""
    from board import NewCard
    from board.clock import utcnow
    from profiles import load_profile
    from workers.context import card_secrets, make_context

    card_id, _ = store.add_card(NewCard(title, profile, 1, body=body, **card), utcnow())
    claim = store.claim(utcnow(), 60)
    assert claim is not None and claim.card_id == card_id
    secrets, masker = card_secrets(os.environ)
    workspace.mkdir(parents=True, exist_ok=True)
    return make_context(
        card=store.card(card_id),
        run_id=claim.run_id,
        workspace=workspace,
        log_path=home / "logs" / f"card-{card_id}" / f"run-{claim.run_id}.log",
        profile=load_profile(profile, home / "profiles"),
        store=store,
        attempt=attempt or _attempt(),
        secrets=secrets,
        masker=masker,
        repo_git=repo_git,
    )


def _attempt() -> Attempt:
    from workers.attempt import Attempt

    return Attempt(None)
