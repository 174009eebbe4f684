"""The ssh backend through a real dispatcher and a real SSH server on 127.0.0.1: a
card's results come back and are committed on its branch, a deadline and a lost lease
kill the remote process group within a second, and a restarted dispatcher kills the
group a crash left behind."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from board import open_store
from board.clock import parse_iso
from tests.conftest import Cli
from tests.helpers.agents import KEY_ENV, add_card
from tests.helpers.processes import (
    FAST,
    finish,
    git,
    gone,
    make_repo,
    start_dispatcher,
    wait_until,
)
from tests.helpers.sshd import SshServer, ssh_server

pytest.importorskip("asyncssh")


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SshServer]:
    monkeypatch.setenv(KEY_ENV, "sk-test")
    with ssh_server(tmp_path / "sshd") as started:
        yield started


def remote_profile(home: Path, server: SshServer, name: str = "remote") -> str:
    folder = home / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    profile = {"runner": "command", "backend": server.backend()}
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(profile))
    return name


def pid_in(path: Path) -> int:
    return int(wait_until(lambda: path.exists() and path.read_text().strip(), timeout=20))


BODY = "hostname >/dev/null; cat README.md; echo built > out.txt; rm old.txt; mkdir -p d; touch d/x"


def test_results_come_back_on_the_card_branch(
    cli: Cli, hermes_home: Path, db_url: str, server: SshServer, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo", {"README.md": "# remote\n", "old.txt": "old\n"})
    name = remote_profile(hermes_home, server)
    card = add_card(cli, "Build remotely", "--profile", name, "--body", BODY, cwd=repo)
    code, out = finish(start_dispatcher("--until-idle", *FAST), 90)
    assert code == 0, out
    with open_store(db_url) as store:
        shell = store.card(card)
    assert shell.status == "done" and "# remote" in (shell.result or ""), shell
    branch = f"hermes/card-{card}"
    assert git(repo, "show", f"{branch}:out.txt") == "built"
    assert git(repo, "ls-tree", "-r", "--name-only", branch).split() == [
        "README.md", "d/x", "out.txt",
    ]  # fmt: skip
    (checkout,) = server.workdir.glob(f"hermes-*/card-{card}")  # a git checkout there
    assert git(checkout, "rev-parse", "--abbrev-ref", "HEAD") == branch
    assert git(checkout, "log", "--format=%s") == "initial"
    assert "out.txt" in git(checkout, "status", "--short")


def test_a_deadline_and_a_lost_lease_kill_the_remote_group_within_a_second(
    cli: Cli, hermes_home: Path, db_url: str, server: SshServer, tmp_path: Path
) -> None:
    name = remote_profile(hermes_home, server)
    timed, lost = tmp_path / "timed.pid", tmp_path / "lost.pid"
    sleepy = add_card(
        cli, "Sleepy", "--profile", name, "--timeout", "3", "--max-attempts", "1", "--no-repo",
        "--body", f"sleep 60 & echo $! > {timed}; wait",
    )  # fmt: skip
    doomed = add_card(
        cli, "Doomed", "--profile", name, "--no-repo",
        "--body", f"sleep 60 & echo $! > {lost}; wait",
    )  # fmt: skip
    proc = start_dispatcher(*FAST, "--concurrency", "2")
    try:
        with open_store(db_url) as store:
            doomed_pid = pid_in(lost)
            assert cli("board", "cancel", str(doomed)).code == 0
            cancelled_at = time.monotonic()  # (the command's own start-up not counted)
            wait_until(lambda: gone(doomed_pid), timeout=5)
            assert time.monotonic() - cancelled_at < 0.3 + 1.5  # a heartbeat + under a second
            sleeper = pid_in(timed)
            wait_until(lambda: store.card(sleepy).status == "failed", timeout=30)
            run = store.detail(sleepy).runs[-1]
            assert run.outcome == "timeout" and run.started_at and run.ended_at
            took = (parse_iso(run.ended_at) - parse_iso(run.started_at)).total_seconds()
            assert took < 4, took
            wait_until(lambda: gone(sleeper), timeout=1)
    finally:
        proc.send_signal(signal.SIGTERM)
        finish(proc, 30)


def test_a_restarted_dispatcher_kills_the_remote_group_a_crash_left(
    cli: Cli, hermes_home: Path, db_url: str, server: SshServer, tmp_path: Path
) -> None:
    name = remote_profile(hermes_home, server)
    marker = tmp_path / "first.pid"
    body = f"if [ -e {marker} ]; then echo second-try; else echo $$ > {marker}; sleep 60; fi"
    card = add_card(cli, "Survivor", "--profile", name, "--no-repo", "--body", body)
    first = start_dispatcher(*FAST)
    with open_store(db_url) as store:
        remote_pid = pid_in(marker)
        run = store.detail(card).runs[-1]
        assert run.pid is not None
        os.killpg(first.pid, signal.SIGKILL)  # the dispatcher and its template
        os.kill(run.pid, signal.SIGKILL)  # and the worker: the remote group is an orphan
        finish(first)
        assert not gone(remote_pid)
        code, out = finish(start_dispatcher("--until-idle", *FAST), 60)
        assert code == 0, out
        assert f"removed orphan remote process group of run {run.id}" in out, out
        detail = store.detail(card)
    assert gone(remote_pid)
    assert [r.outcome for r in detail.runs] == ["reclaimed", "done"]
    assert "second-try" in (detail.card.result or "")
