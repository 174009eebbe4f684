"""File and shell tools stay inside the workspace and fail in words the model can use."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from board import Store
from tests.helpers.agents import agent_profile, run_context
from tests.helpers.processes import wait_until
from workers.agent import files
from workers.agent.files import ToolError
from workers.agent.shell import cut, run_shell
from workers.runners.base import RunContext


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    (path / "src").mkdir(parents=True)
    (path / "src" / "app.py").write_text("x = 1\ny = 2\n")
    return path


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd", "src/../../x", "~/secrets"])
def test_paths_outside_the_workspace_are_refused(ws: Path, path: str) -> None:
    (ws.parent / "outside.txt").write_text("secret")
    with pytest.raises(ToolError, match=r"outside the workspace|is not a file"):
        files.read_file(ws, path)


def test_symlinks_cannot_escape(ws: Path) -> None:
    (ws.parent / "secret.txt").write_text("secret")
    os.symlink(ws.parent / "secret.txt", ws / "link.txt")
    with pytest.raises(ToolError, match="outside the workspace"):
        files.read_file(ws, "link.txt")


def test_write_read_edit_list(ws: Path) -> None:
    assert files.write_file(ws, "docs/a.md", "hello") == "wrote 5 characters to docs/a.md"
    assert files.read_file(ws, "docs/a.md") == "hello"
    assert files.edit_file(ws, "src/app.py", "y = 2", "y = 3") == "edited src/app.py"
    assert (ws / "src" / "app.py").read_text() == "x = 1\ny = 3\n"
    assert files.list_files(ws, ".").splitlines() == ["docs/", "src/"]


def test_edit_needs_text_that_occurs_exactly_once(ws: Path) -> None:
    with pytest.raises(ToolError, match="not found"):
        files.edit_file(ws, "src/app.py", "z = 9", "")
    (ws / "twice.txt").write_text("a\na\n")
    with pytest.raises(ToolError, match="found 2 times"):
        files.edit_file(ws, "twice.txt", "a", "b")


def test_long_files_are_cut(ws: Path) -> None:
    (ws / "big.txt").write_text("x" * (files.MAX_READ + 10))
    assert files.read_file(ws, "big.txt").endswith("[... 10 more characters not shown]")


@pytest.fixture
def ctx(store: Store, hermes_home: Path, ws: Path) -> RunContext:
    profile = agent_profile(hermes_home, "bot", "http://127.0.0.1:9/v1", backend="local")
    return run_context(store, hermes_home, profile, ws)


def test_shell_keeps_head_and_tail_of_long_output(ctx: RunContext) -> None:
    out = run_shell(ctx, "seq 1 20000; echo LAST", 30)
    assert out.startswith("exit code 0\n1\n2\n")
    assert "characters left out" in out and out.endswith("LAST")
    assert cut("short") == "short"


def test_shell_timeout_kills_the_group(ctx: RunContext, ws: Path) -> None:
    out = run_shell(ctx, "sleep 30 & echo $! > pid; wait", 0.5)
    assert out.startswith("timed out after 0.5s and was killed")
    assert ended(int((ws / "pid").read_text()))


def test_a_background_process_ends_with_its_command(ctx: RunContext, ws: Path) -> None:
    """A process left in the background (holding the output pipe open) neither holds
    the tool nor outlives the command."""
    started = time.monotonic()
    out = run_shell(ctx, "sleep 30 & echo $! > pid; echo started", 20)
    assert out == "exit code 0\nstarted" and time.monotonic() - started < 5
    assert ended(int((ws / "pid").read_text()))


def ended(pid: int) -> bool:
    """Whether `pid` is gone or a zombie within a few seconds: a killed process runs
    until the kernel has torn it down, which takes a moment on a loaded machine."""
    return wait_until(lambda: _gone(pid), timeout=5)


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.parametrize("path", [".git", ".git/config", "sub/../.git/hooks/pre-commit", ".GIT/x"])
def test_git_files_are_refused_by_every_file_tool(ws: Path, path: str) -> None:
    (ws / ".git").write_text("gitdir: /somewhere\n")
    for tool in (
        lambda: files.read_file(ws, path),
        lambda: files.write_file(ws, path, "[core]\n\tfsmonitor = touch /tmp/pwned\n"),
        lambda: files.edit_file(ws, path, "gitdir", "x"),
        lambda: files.list_files(ws, path),
    ):
        with pytest.raises(ToolError, match=r"inside \.git"):
            tool()
    assert (ws / ".git").read_text() == "gitdir: /somewhere\n"
