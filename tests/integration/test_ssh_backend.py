"""The ssh backend against a real SSH server on 127.0.0.1 (asyncssh's own, running real
commands): the worktree mirrored both ways, the remote group killed within a second,
host keys checked, orphans of a crashed run found and killed."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from board import Store
from tests.helpers.agents import run_context
from tests.helpers.processes import gone, wait_until
from tests.helpers.sshd import SshServer, keypair, ssh_server
from workers.attempt import Attempt
from workers.backends import BackendUnavailable, board_tag
from workers.runners.base import execute

pytest.importorskip("asyncssh")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SshServer]:
    with ssh_server(tmp_path / "sshd") as started:
        yield started


def ssh_profile(home: Path, server: SshServer, name: str = "remote", **fields: object) -> str:
    folder = home / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    profile = {"runner": "command", "backend": server.backend(**fields)}
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(profile))
    return name


def test_the_worktree_goes_over_and_comes_back(
    store: Store, hermes_home: Path, server: SshServer, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    (workspace / "src").mkdir(parents=True)
    (workspace / "src" / "old.txt").write_text("old\n")
    (workspace / "gone.txt").write_text("to delete\n")
    (workspace / ".git").write_text("gitdir: /somewhere\n")
    (workspace / "vendor" / "lib").mkdir(parents=True)
    (workspace / "vendor" / "lib" / ".git").write_text("gitdir: /elsewhere\n")  # a submodule
    ctx = run_context(store, hermes_home, ssh_profile(hermes_home, server), workspace)
    script = (
        "cat src/old.txt; pwd; echo new > src/new.txt; rm gone.txt; "
        "echo $HERMES_CARD_ID; mkdir -p .git/hooks; echo planted > .git/hooks/pre-commit"
    )
    sink = io.BytesIO()
    finished = execute(ctx, ["bash", "-c", script], sink, limit=30)
    out = sink.getvalue().decode()
    assert finished.code == 0, out
    assert "old" in out and str(server.workdir) in out and str(ctx.card.id) in out
    assert (workspace / "src" / "new.txt").read_text() == "new\n"
    assert not (workspace / "gone.txt").exists()
    assert (workspace / ".git").read_text() == "gitdir: /somewhere\n"  # never crosses
    assert (workspace / "vendor" / "lib" / ".git").read_text() == "gitdir: /elsewhere\n"


def test_passed_variables_reach_the_command_but_no_command_line(
    store: Store,
    hermes_home: Path,
    server: SshServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A variable the profile passes (`env: [NAME]`) is the command's, but never on a
    command line of the remote host, where every user could read it with `ps` (under
    OpenSSH, `setsid -w` keeps its own arguments for the whole run): neither in what the
    server was asked to run nor in any process's arguments."""
    value = "passed-value-7f3a9c"
    monkeypatch.setenv("HERMES_TEST_PASSED", value)
    folder = hermes_home / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    profile = {"runner": "command", "env": ["HERMES_TEST_PASSED"], "backend": server.backend()}
    (folder / "passing.yaml").write_text(yaml.safe_dump(profile))
    ctx = run_context(store, hermes_home, "passing", tmp_path / "ws")
    script = 'echo "$HERMES_TEST_PASSED" > seen.txt; sleep 30'
    run = ctx.backend.start(
        ["bash", "-c", script], workspace=ctx.workspace, env=ctx.env, output=io.BytesIO()
    )
    try:
        seen = wait_until(lambda: next(server.workdir.rglob("seen.txt"), None))
        wait_until(lambda: seen.read_text().strip() == value)
        lines = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                lines.append(cmdline.read_bytes())
            except OSError:  # ended meanwhile
                continue
        assert not [line for line in lines if value.encode() in line]
        assert not [command for command in server.commands if value in command]
    finally:
        run.kill()


def test_a_kill_ends_the_remote_group_within_a_second(
    store: Store, hermes_home: Path, server: SshServer, tmp_path: Path
) -> None:
    attempt = Attempt(None)
    ctx = run_context(
        store, hermes_home, ssh_profile(hermes_home, server), tmp_path / "ws", attempt=attempt
    )
    marker = tmp_path / "sleeper-pid"
    script = f"sleep 60 & echo $! > {marker}; wait"
    started = ctx.backend.start(
        ["bash", "-c", script], workspace=ctx.workspace, env=ctx.env, output=io.BytesIO()
    )
    pid = int(wait_until(lambda: marker.exists() and marker.read_text().strip()))
    began = time.monotonic()
    started.kill()
    assert started.wait(2) is not None
    assert time.monotonic() - began < 1.5
    wait_until(lambda: gone(pid), timeout=2)
    board = board_tag(None)
    assert not list((server.workdir / f"hermes-{board}" / "runs").glob("*.pgid"))


def test_a_changed_host_key_is_refused(
    store: Store, hermes_home: Path, server: SshServer, tmp_path: Path
) -> None:
    _, other = keypair(tmp_path, "impostor")
    server.known_hosts.write_text(f"[127.0.0.1]:{server.port} {other}\n")
    with pytest.raises(BackendUnavailable, match="host key does not match"):
        run_context(store, hermes_home, ssh_profile(hermes_home, server), tmp_path / "ws")
    assert server.commands == []


def test_an_unknown_host_is_refused_unless_its_key_is_pinned(
    store: Store, hermes_home: Path, server: SshServer, tmp_path: Path
) -> None:
    server.known_hosts.write_text("")
    with pytest.raises(BackendUnavailable, match="the host is unknown"):
        run_context(store, hermes_home, ssh_profile(hermes_home, server), tmp_path / "ws")
    pinned = ssh_profile(hermes_home, server, "pinned", known_hosts=None, host_key=server.host_key)
    ctx = run_context(store, hermes_home, pinned, tmp_path / "ws2")
    sink = io.BytesIO()
    assert execute(ctx, ["bash", "-c", "echo hi"], sink, limit=30).code == 0
    assert b"hi" in sink.getvalue()


def test_orphans_of_dead_runs_are_killed_and_live_ones_kept(
    store: Store, hermes_home: Path, server: SshServer, tmp_path: Path
) -> None:
    from dispatcher.orphans import remote_specs, sweep
    from profiles import load_profile
    from workers.backends.base import EndedRuns

    name = ssh_profile(hermes_home, server)
    pids = []
    runs = []
    for n in range(2):
        ctx = run_context(store, hermes_home, name, tmp_path / f"ws{n}")
        marker = tmp_path / f"pid{n}"
        ctx.backend.start(
            ["bash", "-c", f"echo $$ > {marker}; sleep 60"],
            workspace=ctx.workspace,
            env=ctx.env,
            output=io.BytesIO(),
        )
        pids.append(int(wait_until(lambda m=marker: m.exists() and m.read_text().strip())))
        runs.append(ctx.run_id)
    spec = load_profile(name, hermes_home / "profiles").backend
    live = EndedRuns(upto=runs[1], live=frozenset({runs[1]}))
    removed, problems = sweep(remote_specs([spec]), board_tag(None), live)
    assert problems == []
    assert removed == [f"remote process group of run {runs[0]} on 127.0.0.1:{server.port}"]
    wait_until(lambda: gone(pids[0]), timeout=2)
    assert not gone(pids[1])
    # a run newer than the sweep's first reading may have been claimed meanwhile: kept
    assert sweep([spec], board_tag(None), EndedRuns(upto=runs[0], live=frozenset())) == ([], [])
    assert not gone(pids[1])
    sweep([spec], board_tag(None), EndedRuns(upto=runs[1], live=frozenset()))
    wait_until(lambda: gone(pids[1]), timeout=2)


def test_an_agents_file_tools_and_remote_shell_see_the_same_files(
    store: Store, hermes_home: Path, server: SshServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from tests.helpers.agents import KEY_ENV, agent_profile, call, tool_results
    from workers.agent.fake_openai import FakeOpenAI
    from workers.runners.agent import AgentRunner

    monkeypatch.setenv(KEY_ENV, "sk-test")
    script = [
        {"tool_calls": [call("write_file", path="note.txt", content="hi")]},
        {"when": "wrote", "tool_calls": [call("shell", command="cat note.txt; echo yo >back.txt")]},
        {"when": "exit code", "tool_calls": [call("read_file", path="back.txt")]},
        {"text": "agreed"},
    ]
    with FakeOpenAI(script) as model:
        name = agent_profile(hermes_home, "agentremote", model.url, backend=server.backend())
        ctx = run_context(store, hermes_home, name, tmp_path / "ws")
        outcome = AgentRunner().run(ctx)
        told = tool_results(model.requests[-1])  # every result of the conversation
    assert outcome.ok and outcome.result == "agreed", outcome
    assert told[1].startswith("exit code 0") and "hi" in told[1]
    assert told[2].strip() == "yo"
    assert (tmp_path / "ws" / "back.txt").read_text() == "yo\n"
