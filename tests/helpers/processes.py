"""Real dispatcher processes and real git repositories for tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test User",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test User",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}

#: Fast settings so reclaim and retry tests take seconds, not minutes.
FAST = ["--tick", "1", "--heartbeat", "0.3", "--lease", "2", "--backoff", "0.2", "--grace", "3"]


def wait_until(check: Callable[[], T | None], timeout: float = 20.0, every: float = 0.05) -> T:
    """Poll `check` until it returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {check}")
        time.sleep(every)


def start_dispatcher(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`hermes dispatcher start ARGS` as a real subprocess (its own process group)."""
    return subprocess.Popen(
        [sys.executable, "-m", "hermes", "dispatcher", "start", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


@contextmanager
def dispatcher(*args: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    """A dispatcher for the length of a `with` block, stopped (and reaped) after it."""
    proc = start_dispatcher(*args, env=env)
    try:
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[str], timeout: float = 20) -> None:
    """End a server or dispatcher a test started: SIGTERM, then SIGKILL after `timeout`;
    reaped and its output pipe closed."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str]:
    """Wait for a dispatcher (e.g. --until-idle) and return its exit code and output."""
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run git in `cwd` with a test identity; returns stdout."""
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_IDENTITY, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def make_repo(path: Path, files: dict[str, str] | None = None, branch: str = "main") -> Path:
    """A git repository with one commit of `files` on `branch`."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    for name, text in (files or {"README.md": "# project\n"}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "add", ".")
    git(path, "commit", "-qm", "initial")
    return path


def gone(pid: int) -> bool:
    """Whether a process has exited (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] == "Z"
    except FileNotFoundError:
        return True


_HOLD = """
import sqlite3, sys, time
cx = sqlite3.connect(sys.argv[1], isolation_level=None)
cx.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
cx.execute("ROLLBACK")
"""


def hold_write_lock(db: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the board's write lock; returns once it has it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    proc.stdout.close()
    return proc


def local_shell(home: Path, name: str = "localsh") -> str:
    """A command profile that runs without the sandbox, for tests whose cards keep state
    outside their workspace or report host pids (the sandbox hides both by design)."""
    folder = home / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text("runner: command\nbackend: local\n")
    return name
