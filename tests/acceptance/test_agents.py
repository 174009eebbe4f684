"""Agent cards through a real dispatcher and the real CLI: the agent worker template,
approvals and questions answered from the command line, accounting, external agent CLIs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from board import open_store
from tests.conftest import Cli
from tests.helpers.agents import (
    KEY_ENV,
    add_card,
    agent_profile,
    approvals_script,
    call,
    serve,
    tool_results,
)
from tests.helpers.processes import (
    FAST,
    dispatcher,
    finish,
    git,
    make_repo,
    start_dispatcher,
    wait_until,
)
from workers.agent.fake_openai import FakeOpenAI


@pytest.fixture(autouse=True)
def model_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")


def test_an_agent_card_is_worked_committed_and_accounted(
    cli: Cli, model: list[FakeOpenAI], hermes_home: Path, tmp_path: Path, db_url: str
) -> None:
    repo = make_repo(tmp_path / "app", {"app.py": "print('v1')\n"})
    server = serve(
        model,
        [
            {
                "text": "Updating app.py.",
                "tool_calls": [call("edit_file", path="app.py", old="v1", new="v2")],
                "usage": {"prompt_tokens": 1500, "completion_tokens": 50},
            },
            {
                "tool_calls": [call("shell", command="python3 app.py")],
                "usage": {"prompt_tokens": 1600, "completion_tokens": 20},
            },
            {
                "text": "app.py now prints v2 (checked by running it).",
                "usage": {"prompt_tokens": 1700, "completion_tokens": 30},
            },
        ],
    )
    agent_profile(hermes_home, "coder", server.url)
    card = add_card(
        cli, "Bump to v2", "--profile", "coder", "--body", "Make app.py print v2.", cwd=repo
    )
    code, out = finish(start_dispatcher("--until-idle", *FAST))
    assert code == 0, out
    assert "warming the agent worker template" in out
    with open_store(db_url) as store:
        detail = store.detail(card)
    assert detail.card.status == "done"
    assert detail.card.result == "app.py now prints v2 (checked by running it)."
    run = detail.runs[0]
    assert (run.tokens_in, run.tokens_out) == (4800, 100)
    assert run.cost_usd == pytest.approx(4800 * 0.15e-6 + 100 * 0.6e-6)
    assert tool_results(server.requests[2])[-1] == "exit code 0\nv2"
    assert git(repo, "show", f"hermes/card-{card}:app.py") == "print('v2')"
    assert git(repo, "show", "main:app.py") == "print('v1')"  # the checkout is untouched
    shown = cli("board", "show", str(card)).out
    assert "tokens 4,800 in / 100 out" in shown and "$0.0008" in shown
    stats = cli("board", "stats", "--json").json()["runs"]["by_profile"]["coder"]
    assert (stats["tokens_in"], stats["tokens_out"]) == (4800, 100)
    log = cli("board", "log", str(card)).out
    assert "[model] Updating app.py." in log and "[tool] shell" in log


def test_approve_reject_and_reply_from_the_command_line(
    cli: Cli, model: list[FakeOpenAI], hermes_home: Path, db_url: str
) -> None:
    server = serve(model, approvals_script("kubectl apply -f prod.yaml", "Which region, eu or us?"))
    agent_profile(hermes_home, "ops", server.url)
    push = add_card(cli, "Push it", "--profile", "ops", "--no-repo")
    deploy = add_card(cli, "Deploy it", "--profile", "ops", "--no-repo")
    ask = add_card(cli, "Pick a region", "--profile", "ops", "--no-repo")
    with dispatcher(*FAST, "--lease", "10"), open_store(db_url) as store:
        for card in (push, deploy, ask):
            try:
                wait_until(lambda c=card: store.card(c).status == "needs_input", timeout=60)
            except AssertionError as exc:  # say where the card got to instead
                raise AssertionError(store.detail(card)) from exc
        shown = cli("board", "show", str(push)).out
        assert "approval to run: git push --force origin main" in shown
        assert "high risk: force push" in shown and f"hermes board approve {push}" in shown
        assert "an answer: Which region, eu or us?" in cli("board", "show", str(ask)).out
        wrong = cli("board", "reply", str(push), "yes")
        assert wrong.code == 2 and f"use `hermes board approve {push}`" in wrong.err
        assert cli("board", "approve", str(push)).code == 0
        assert cli("board", "reject", str(deploy), "--reason", "not on a Friday").code == 0
        assert cli("board", "reply", str(ask), "eu-west").code == 0
        for card in (push, deploy, ask):
            wait_until(lambda c=card: store.card(c).status == "done", timeout=30)
        kinds = {c: [e.kind for e in store.detail(c).events] for c in (push, deploy, ask)}
    assert "approved" in kinds[push] and "rejected" in kinds[deploy] and "answered" in kinds[ask]
    told = {r["messages"][1]["content"].split("\n")[0]: tool_results(r) for r in server.requests}
    assert told[f"# Card {deploy}: Deploy it"][-1] == "rejected by a human: not on a Friday"
    assert told[f"# Card {ask}: Pick a region"][-1] == "eu-west"
    assert told[f"# Card {push}: Push it"][-1].startswith("exit code")
    not_waiting = cli("board", "approve", str(push))
    assert (
        not_waiting.code == 2
        and f"card {push} is done; it is not waiting for anyone" in not_waiting.err
    )


def test_a_cli_agent_works_the_card_in_its_worktree(
    cli: Cli, hermes_home: Path, tmp_path: Path, db_url: str
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "fake-agent"
    fake.write_text(
        '#!/bin/bash\nset -e\necho "prompt was: $2" | head -1\nprintf "%s\\n" "$2" > PROMPT.md\n'
        'echo "card $4 done in $(basename $PWD)"\n'
    )
    fake.chmod(0o755)
    (hermes_home / "profiles").mkdir(parents=True)
    (hermes_home / "profiles" / "fake.yaml").write_text(
        'runner: cli\ncommand: ["fake-agent", "-p", "{prompt}", "--card", "{card_id}"]\n'
    )
    (hermes_home / "profiles" / "ghost.yaml").write_text(
        'runner: cli\ncommand: ["no-such-agent", "{prompt}"]\n'
    )
    repo = make_repo(tmp_path / "proj")
    card = add_card(cli, "Write a prompt file", "--profile", "fake", "--body", "Say hi.", cwd=repo)
    ghost = add_card(cli, "Never runs", "--profile", "ghost", "--max-attempts", "1", "--no-repo")
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    code, out = finish(start_dispatcher("--until-idle", *FAST, env=env))
    assert code == 0, out
    with open_store(db_url) as store:
        done, failed = store.card(card), store.detail(ghost)
    assert done.status == "done" and f"card {card} done in card-{card}" in (done.result or "")
    prompt = git(repo, "show", f"hermes/card-{card}:PROMPT.md")
    assert prompt.startswith(f"# Card {card}: Write a prompt file") and "Say hi." in prompt
    assert failed.card.status == "failed"
    assert failed.runs[0].error == (
        "the agent CLI 'no-such-agent' is not installed or not on PATH (profile 'ghost'); "
        "install it or use another profile"
    )


def test_an_agent_without_its_key_fails_at_once_with_the_fix(
    cli: Cli,
    model: list[FakeOpenAI],
    hermes_home: Path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(KEY_ENV)
    server = serve(model, [{"text": "never"}])
    agent_profile(hermes_home, "keyless", server.url, max_attempts=1)
    card = add_card(cli, "No key", "--profile", "keyless", "--no-repo")
    code, out = finish(start_dispatcher("--until-idle", *FAST))
    assert code == 0, out
    with open_store(db_url) as store:
        detail = store.detail(card)
    assert detail.card.status == "failed"
    assert detail.runs[0].error == f"set {KEY_ENV} (profile 'keyless', model openai/gpt-4o-mini)"
    assert server.requests == []
