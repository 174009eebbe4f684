"""The sandbox backend with real bubblewrap: only the workspace is writable, secrets
under $HOME and the board are hidden, the network is off unless asked for, and nothing
the work starts outlives it. Ordinary work (git, python, a test run) still succeeds."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from board import Store
from tests.helpers.agents import agent_profile, run_context
from tests.helpers.processes import git, make_repo
from workers.backends import probe, slirp
from workers.runners.base import RunContext, execute

pytestmark = [
    pytest.mark.skipif(probe() is not None, reason=f"no sandbox here: {probe()}"),
    pytest.mark.engines("sqlite"),  # the sandbox does not depend on the board's engine
]


@pytest.fixture
def fake_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A $HOME with the secrets people keep there."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text("[default]\naws_secret_access_key = x\n")
    monkeypatch.setenv("HOME", str(home))
    return home


def sandbox_ctx(store: Store, home: Path, workspace: Path, **backend: object) -> RunContext:
    profile = agent_profile(
        home, "boxed", "http://127.0.0.1:9/v1", backend={"kind": "sandbox", **backend}
    )
    return run_context(store, home, profile, workspace)


def run(ctx: RunContext, script: str) -> tuple[int | None, str]:
    sink = io.BytesIO()
    finished = execute(ctx, ["bash", "-c", script], sink, limit=30)
    return finished.code, sink.getvalue().decode()


@pytest.fixture
def ctx(store: Store, hermes_home: Path, tmp_path: Path, fake_home: Path) -> RunContext:
    return sandbox_ctx(store, hermes_home, tmp_path / "ws")


def test_only_the_workspace_is_writable(ctx: RunContext, tmp_path: Path) -> None:
    system = Path("/usr/local") / f"hermes-sandbox-probe-{os.getpid()}"
    code, out = run(ctx, f"echo inside > made.txt && echo x > {system}")
    assert code != 0 and "Read-only file system" in out
    assert (ctx.workspace / "made.txt").read_text() == "inside\n"
    assert not system.exists()
    # /tmp and $HOME are private scratch space: writes there never reach the host
    beside = tmp_path / "beside.txt"
    code, out = run(ctx, f"mkdir -p {tmp_path} && echo x > {beside} && echo wrote")
    assert "wrote" in out and not beside.exists()


def test_home_secrets_and_the_board_are_hidden(
    ctx: RunContext, fake_home: Path, hermes_home: Path
) -> None:
    assert (hermes_home / "board.db").exists()
    code, out = run(
        ctx,
        f"ls -A {fake_home}; cat ~/.ssh/id_ed25519 || echo no-key; "
        f"ls {hermes_home}/board.db || echo no-board; echo home=$HOME",
    )
    assert code == 0, out
    assert "BEGIN OPENSSH" not in out and "no-key" in out and "no-board" in out
    assert f"home={fake_home}" in out  # the same $HOME, empty and private


def test_tools_under_home_work_but_their_credentials_do_not_show(
    store: Store,
    hermes_home: Path,
    tmp_path: Path,
    fake_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tools = fake_home / ".cargo" / "bin"
    tools.mkdir(parents=True)
    (tools / "greet").write_text("#!/bin/sh\necho hello from a tool\n")
    (tools / "greet").chmod(0o755)
    (fake_home / ".cargo" / "credentials.toml").write_text("token = 'crates-secret'\n")
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")
    ctx = sandbox_ctx(store, hermes_home, tmp_path / "ws")
    code, out = run(ctx, "greet; cat ~/.cargo/credentials.toml; echo end")
    assert code == 0 and "hello from a tool" in out and "crates-secret" not in out


def test_tmp_is_private(ctx: RunContext) -> None:
    marker = Path("/tmp") / f"hermes-sandbox-marker-{os.getpid()}"
    marker.write_text("host")
    try:
        mine = Path("/tmp") / f"hermes-sandbox-mine-{os.getpid()}"
        code, out = run(ctx, f"cat {marker} || echo unseen; echo scratch > {mine}")
        assert "unseen" in out and code == 0
        assert not mine.exists()
    finally:
        marker.unlink()


@pytest.fixture
def listener() -> Iterator[int]:
    server = socket.create_server(("0.0.0.0", 0))
    server.settimeout(5)
    yield server.getsockname()[1]
    server.close()


def host_address() -> str | None:
    """This machine's first address that is not loopback (None: it has none)."""
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    return next((a for a in out if not a.startswith("127.") and ":" not in a), None)


def connects(ctx: RunContext, address: str, port: int) -> bool:
    _code, out = run(ctx, f"(exec 3<>/dev/tcp/{address}/{port}) 2>/dev/null && echo yes || echo no")
    return out.strip().endswith("yes")


def test_the_network_is_off_unless_the_profile_says_so(
    store: Store, hermes_home: Path, tmp_path: Path, fake_home: Path, listener: int
) -> None:
    closed = sandbox_ctx(store, hermes_home, tmp_path / "a")
    assert not connects(closed, "127.0.0.1", listener)
    if (address := host_address()) is not None:
        assert not connects(closed, address, listener)


@pytest.mark.skipif(slirp() is None, reason="slirp4netns is not installed")
def test_an_open_network_is_outbound_only(
    store: Store, hermes_home: Path, tmp_path: Path, fake_home: Path, listener: int
) -> None:
    """With `network: true`, card work reaches other machines (here this machine's own
    address, through the NAT) but not the services on this machine's loopback."""
    opened = sandbox_ctx(store, hermes_home, tmp_path / "b", network=True)
    assert not connects(opened, "127.0.0.1", listener)
    address = host_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    assert connects(opened, address, listener)
    _code, out = run(opened, "cat /etc/resolv.conf")
    assert out == "nameserver 10.0.2.3\n"


def test_nothing_it_starts_outlives_it(ctx: RunContext) -> None:
    """A daemon that leaves the process group (setsid, nohup) still dies with the
    sandbox: it runs in the sandbox's own PID namespace."""
    code, out = run(
        ctx,
        "nohup setsid bash -c 'while true; do date +%s%N >> beat; sleep 0.05; done' "
        ">/dev/null 2>&1 & sleep 0.3; echo started",
    )
    assert code == 0 and "started" in out
    beat = ctx.workspace / "beat"
    time.sleep(0.3)
    size = beat.stat().st_size
    time.sleep(0.5)
    assert beat.stat().st_size == size, "the background process is still running"


def test_ordinary_work_succeeds_in_a_worktree(
    store: Store, hermes_home: Path, tmp_path: Path, fake_home: Path
) -> None:
    repo = make_repo(
        tmp_path / "proj",
        {
            "calc.py": "def add(a, b):\n    return a + b\n",
            "test_calc.py": "import unittest\nfrom calc import add\n\n"
            "class T(unittest.TestCase):\n    def test_add(self):\n"
            "        self.assertEqual(add(2, 2), 4)\n",
        },
    )
    worktree = tmp_path / "wt" / "card-1"
    git(repo, "worktree", "add", "-b", "hermes/card-1", str(worktree))
    gitdir = Path(git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir"))
    profile = agent_profile(hermes_home, "boxed", "http://127.0.0.1:9/v1", backend="sandbox")
    ctx = run_context(store, hermes_home, profile, worktree, repo_git=gitdir)
    code, out = run(
        ctx,
        "echo '# notes' > NOTES.md && git status --short && git log --oneline | head -1 "
        "&& python3 -m unittest -q 2>&1 && python3 -c 'print(6*7)'",
    )
    assert code == 0, out
    assert "?? NOTES.md" in out and "OK" in out and "42" in out
    # git's metadata stays read-only: a commit from inside is refused, hermes commits later
    code, out = run(ctx, "git add -A && git commit -qm inside")
    assert code != 0
    assert subprocess.run(["git", "-C", str(repo), "log", "--oneline"], capture_output=True,
                          text=True).stdout.count("\n") == 1  # fmt: skip
