"""Containment through a real dispatcher: deadlines that hold for every runner, secrets
kept out of card work and masked everywhere, nothing an agent writes run by hermes' git,
the sandbox holding against a command card and an agent, a private HERMES_HOME."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from board import open_store
from board.clock import parse_iso
from tests.conftest import Cli
from tests.helpers.agents import KEY_ENV, add_card, agent_profile, call, serve, tool_results
from tests.helpers.processes import FAST, finish, git, make_repo, start_dispatcher
from workers.agent.fake_openai import FakeOpenAI
from workers.backends import probe

KEY = "sk-live-7f3a9c2e4b1d8f6a0c5e"
sandboxed = pytest.mark.skipif(probe() is not None, reason=f"no sandbox here: {probe()}")


@pytest.fixture(autouse=True)
def model_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")


def profile_file(home: Path, name: str, text: str) -> None:
    (home / "profiles").mkdir(parents=True, exist_ok=True)
    (home / "profiles" / f"{name}.yaml").write_text(text)


def everything_written(home: Path) -> str:
    """Every file hermes wrote under HERMES_HOME, as text (the board, logs, transcripts;
    not the cards' own workspaces)."""
    chunks = []
    for path in home.rglob("*"):
        if path.is_file() and "workspaces" not in path.relative_to(home).parts:
            chunks.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(chunks)


# -- deadlines ------------------------------------------------------------------------


def test_every_runner_ends_timeout_within_a_second_of_its_deadline(
    cli: Cli, model: list[FakeOpenAI], hermes_home: Path, db_url: str
) -> None:
    server = serve(
        model,
        [
            {"when": "Sleepy agent", "tool_calls": [call("shell", command="sleep 30")]},
            {"when": "Asking agent", "tool_calls": [call("ask_human", question="Which one?")]},
            {"when": "Slow model", "text": "late", "delay": 30},
        ],
    )
    agent_profile(hermes_home, "bot", server.url, max_attempts=1)
    profile_file(hermes_home, "slowcli", 'runner: cli\ncommand: ["bash", "-c", "sleep 30"]\n')
    three = ("--timeout", "3", "--max-attempts", "1", "--no-repo")
    cards = [
        add_card(cli, "Sleepy command", "--profile", "shell", "--body", "sleep 30", *three),
        add_card(cli, "Sleepy agent", "--profile", "bot", *three),
        add_card(cli, "Asking agent", "--profile", "bot", *three),
        add_card(cli, "Slow model", "--profile", "bot", *three),
        add_card(cli, "Sleepy cli", "--profile", "slowcli", *three),
    ]
    code, out = finish(start_dispatcher("--until-idle", *FAST, "--concurrency", "5"), 90)
    assert code == 0, out
    with open_store(db_url) as store:
        for card in cards:
            detail = store.detail(card)
            run = detail.runs[-1]
            assert detail.card.status == "failed", (detail.card.title, run)
            assert run.outcome == "timeout" and run.error == "timed out after 3s"
            assert run.started_at is not None and run.ended_at is not None
            took = (parse_iso(run.ended_at) - parse_iso(run.started_at)).total_seconds()
            assert took < 4, (detail.card.title, took)


def test_time_waiting_for_a_human_can_have_its_own_limit(
    cli: Cli, model: list[FakeOpenAI], hermes_home: Path, db_url: str
) -> None:
    """`human_timeout`: waits do not count against `timeout`, and have their own limit."""
    server = serve(model, [{"tool_calls": [call("ask_human", question="Which one?")]}])
    agent_profile(hermes_home, "patient", server.url, max_attempts=1, human_timeout=2)
    card = add_card(cli, "Ask", "--profile", "patient", "--timeout", "60", "--no-repo")
    code, out = finish(start_dispatcher("--until-idle", *FAST), 60)
    assert code == 0, out
    with open_store(db_url) as store:
        run = store.detail(card).runs[-1]
    assert run.outcome == "timeout" and run.error == "timed out: nobody answered within 2s"


# -- secrets --------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["local", pytest.param("sandbox", marks=sandboxed)])
def test_secrets_never_reach_card_work_and_are_masked_everywhere(
    cli: Cli, model: list[FakeOpenAI], hermes_home: Path, db_url: str, backend: str
) -> None:
    server = serve(
        model,
        [
            {"when": "Agent env", "tool_calls": [call("shell", command="env; cat key.txt")]},
            {"when": "PATH=", "text": "printed it"},
            {"when": "Leaky provider", "status": 401, "text": f"Incorrect API key: {KEY}"},
        ],
    )
    agent_profile(hermes_home, "bot", server.url, max_attempts=1, backend=backend)
    agent_profile(hermes_home, "keyed", server.url, max_attempts=1, api_key_env="OPENAI_API_KEY")
    profile_file(
        hermes_home, "sh", f"runner: command\nbackend: {backend}\nenv: [PASSED_ON_PURPOSE]\n"
    )
    env_card = add_card(
        cli, "Shell env", "--profile", "sh", "--no-repo",
        "--body", "env; echo passed=$PASSED_ON_PURPOSE; echo key=${OPENAI_API_KEY:-none}",
    )  # fmt: skip
    workspace_file = hermes_home / "workspaces" / "card-2" / "key.txt"
    workspace_file.parent.mkdir(parents=True)
    workspace_file.write_text(f"the key is {KEY}\n")  # a file that shows the key anyway
    agent_card = add_card(cli, "Agent env", "--profile", "bot", "--no-repo")
    leaky = add_card(cli, "Leaky provider", "--profile", "keyed", "--no-repo")
    secrets = {"OPENAI_API_KEY": KEY, "GITHUB_TOKEN": "ghp_abcdefghijklmnop", KEY_ENV: "sk-test"}
    env = {**secrets, "PASSED_ON_PURPOSE": "visible-value"}
    code, out = finish(start_dispatcher("--until-idle", *FAST, env=env), 60)
    assert code == 0, out
    with open_store(db_url) as store:
        shell = store.card(env_card)
        agent = store.card(agent_card)
        failed = store.detail(leaky)
    assert shell.status == "done" and "key=none" in (shell.result or "")
    assert "passed=visible-value" in (shell.result or "")
    assert "GITHUB_TOKEN" not in (shell.result or "")
    assert agent.status == "done"
    assert failed.card.status == "failed" and "Incorrect API key: ***" in (
        failed.runs[0].error or ""
    )
    shown = cli("board", "show", str(leaky), "--json").out + cli("board", "list", "--json").out
    for value in secrets.values():
        assert value not in everything_written(hermes_home)
        assert value not in shown
        for request in server.requests:
            assert all(value not in result for result in tool_results(request))
    told = next(r for request in server.requests for r in tool_results(request))
    assert "the key is ***" in told and "PATH=" in told


# -- no host code from what an agent writes ------------------------------------------

PLANTED = "[core]\n\trepositoryformatversion = 0\n\tfsmonitor = touch {marker}\n"


def test_a_files_only_agent_cannot_plant_a_git_directory(
    cli: Cli, model: list[FakeOpenAI], hermes_home: Path, db_url: str, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    repo = make_repo(tmp_path / "proj")
    server = serve(
        model,
        [
            {
                "tool_calls": [
                    call("write_file", path="evil/config", content=PLANTED.format(marker=marker)),
                    call("write_file", path="evil/HEAD", content="ref: refs/heads/main\n"),
                    call("write_file", path=".git", content=f"gitdir: {tmp_path}/proj/evil\n"),
                    call("write_file", path=".git/config", content="x"),
                    call("write_file", path="notes.md", content="work\n"),
                ]
            },
            {"text": "planted"},
        ],
    )
    agent_profile(hermes_home, "files", server.url, tools=["files"], max_attempts=1)
    card = add_card(cli, "Plant it", "--profile", "files", cwd=repo)
    code, out = finish(start_dispatcher("--until-idle", *FAST), 60)
    assert code == 0, out
    assert not marker.exists()
    results = tool_results(server.requests[1])
    assert results[2].startswith("error: path '.git' is inside .git")
    assert results[3].startswith("error: path '.git/config' is inside .git")
    with open_store(db_url) as store:
        assert store.card(card).status == "done"
    assert git(repo, "show", f"hermes/card-{card}:notes.md") == "work"
    assert not marker.exists()


def test_hermes_git_never_follows_a_rewritten_dot_git(
    cli: Cli, hermes_home: Path, db_url: str, tmp_path: Path
) -> None:
    """Card work (here a command card without a sandbox) replaces the worktree's `.git`
    with a repository whose settings and hooks run commands: hermes' commit runs none of
    them and still lands on the card's branch in the real repository."""
    marker = tmp_path / "pwned"
    repo = make_repo(tmp_path / "proj")
    profile_file(hermes_home, "raw", "runner: command\nbackend: local\nmax_attempts: 1\n")
    body = f"""
rm .git
git init -q --bare evil-git
git config --file evil-git/config core.bare false
git config --file evil-git/config core.fsmonitor "touch {marker}"
git config --file evil-git/config core.hooksPath hooks
mkdir -p hooks && printf '#!/bin/sh\\ntouch {marker}\\n' > hooks/pre-commit
chmod +x hooks/pre-commit
echo "gitdir: $PWD/evil-git" > .git
echo work > result.txt
"""
    card = add_card(cli, "Rewrite .git", "--profile", "raw", "--body", body, cwd=repo)
    code, out = finish(start_dispatcher("--until-idle", *FAST), 60)
    assert code == 0, out
    with open_store(db_url) as store:
        assert store.card(card).status == "done", store.detail(card).runs
    assert not marker.exists()
    assert git(repo, "show", f"hermes/card-{card}:result.txt") == "work"


def test_a_repository_nested_in_the_workspace_runs_nothing_and_is_left_out(
    cli: Cli, hermes_home: Path, db_url: str, tmp_path: Path
) -> None:
    """A nested repository's own settings (a clean filter here) would run if hermes' git
    looked inside it; it never does, and the nested repository is not committed."""
    marker = tmp_path / "pwned"
    repo = make_repo(tmp_path / "proj")
    profile_file(hermes_home, "raw", "runner: command\nbackend: local\nmax_attempts: 1\n")
    body = f"""
git init -q sub && cd sub && echo one > a.txt && git add a.txt
git -c user.name=x -c user.email=x@x commit -qm one
printf '#!/bin/sh\\ntouch {marker}\\ncat\\n' > ../filter.sh && chmod +x ../filter.sh
git config filter.x.clean "$PWD/../filter.sh" && echo '* filter=x' > .git/info/attributes
sleep 1.1 && touch a.txt && cd .. && echo work > result.txt
"""
    card = add_card(cli, "Nest a repo", "--profile", "raw", "--body", body, cwd=repo)
    code, out = finish(start_dispatcher("--until-idle", *FAST), 60)
    assert code == 0, out
    with open_store(db_url) as store:
        assert store.card(card).status == "done", store.detail(card).runs
    assert not marker.exists()
    files = git(repo, "ls-tree", "-r", "--name-only", f"hermes/card-{card}").split()
    assert "result.txt" in files and "sub" not in files
    log = cli("board", "log", str(card)).out
    assert "not committed: sub (a git repository of its own)" in log


def test_a_card_whose_work_cannot_be_committed_never_ends_done(
    cli: Cli, hermes_home: Path, db_url: str, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "proj")
    profile_file(hermes_home, "raw", "runner: command\nbackend: local\nmax_attempts: 1\n")
    body = (
        'echo work > a.txt; gitdir=$(sed "s/gitdir: //" .git); '
        'echo "ref: refs/heads/main" > "$gitdir/HEAD"'
    )
    card = add_card(cli, "Move HEAD", "--profile", "raw", "--body", body, cwd=repo)
    code, out = finish(start_dispatcher("--until-idle", *FAST), 60)
    assert code == 0, out
    with open_store(db_url) as store:
        detail = store.detail(card)
    assert detail.card.status == "failed"
    assert "were changed during the run" in (detail.runs[0].error or "")
    assert git(repo, "log", "--oneline", "main").count("\n") == 0  # main untouched


# -- the sandbox holds against card work -------------------------------------------------

ESCAPES = """
echo x > {outside} && echo wrote-outside || echo no-write-outside
cat ~/.ssh/id_ed25519 && echo read-key || echo no-key
(exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && echo reached-network || echo no-network
nohup setsid bash -c 'sleep 60; touch {late}' >/dev/null 2>&1 &
echo escapes-tried
"""


@sandboxed
def test_the_sandbox_holds_against_a_command_card_and_an_agent(
    cli: Cli, model: list[FakeOpenAI], hermes_home: Path, db_url: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("PRIVATE KEY\n")
    server_socket = socket.create_server(("127.0.0.1", 0))
    port = server_socket.getsockname()[1]
    outside = Path("/usr/local") / f"hermes-escape-{os.getpid()}"
    script = ESCAPES.format(outside=outside, port=port, late=tmp_path / "late")
    model_server = serve(
        model, [{"tool_calls": [call("shell", command=script)]}, {"text": "tried"}]
    )
    agent_profile(hermes_home, "boxed", model_server.url, backend="sandbox", approvals="auto")
    profile_file(hermes_home, "boxsh", "runner: command\nbackend: sandbox\n")
    shell_card = add_card(
        cli, "Escape (shell)", "--profile", "boxsh", "--body", script, "--no-repo"
    )
    add_card(cli, "Escape (agent)", "--profile", "boxed", "--no-repo")
    env = {"HOME": str(home)}
    try:
        code, out = finish(start_dispatcher("--until-idle", *FAST, env=env), 60)
    finally:
        server_socket.close()
    assert code == 0, out
    with open_store(db_url) as store:
        told = [r for request in model_server.requests for r in tool_results(request)]
        outputs = [store.card(shell_card).result or "", *told]
    assert len(outputs) == 2
    for output in outputs:
        assert "escapes-tried" in output
        for denied in ("no-write-outside", "no-key", "no-network"):
            assert denied in output, output
    assert not outside.exists()
    processes = Path("/proc")
    sleepers = [
        p for p in processes.iterdir()
        if p.name.isdigit() and str(tmp_path / "late") in _cmdline(p)
    ]  # fmt: skip
    assert sleepers == [], "a background process outlived its card"


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# -- a private HERMES_HOME ------------------------------------------------------------


def test_hermes_home_is_private_and_an_old_one_is_tightened(
    cli: Cli, hermes_home: Path, db_url: str
) -> None:
    hermes_home.mkdir(mode=0o755)
    hermes_home.chmod(0o755)
    (hermes_home / "board.db").touch(mode=0o644)
    (hermes_home / "board.db").chmod(0o644)
    add_card(cli, "Say hi", "--profile", "shell", "--body", "echo hi", "--no-repo")
    code, out = finish(start_dispatcher("--until-idle", *FAST), 60)
    assert code == 0, out
    assert stat.S_IMODE(hermes_home.stat().st_mode) == 0o700
    private = [hermes_home / "board.db", *hermes_home.glob("logs/card-*/run-*.log")]
    assert len(private) == 2
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
