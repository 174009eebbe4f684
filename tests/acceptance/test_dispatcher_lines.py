"""What the dispatcher tells the person watching it, and stopping it from elsewhere: cards
that wait for a human, planner turns, what `--until-idle` still waits for, stops (by
signal or `hermes dispatcher stop`) and dispatchers that died without saying so. Real
processes, real signals."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from board import open_store
from board.clock import utcnow
from tests.conftest import Cli, add
from tests.helpers.agents import KEY_ENV, agent_profile, call, serve
from tests.helpers.processes import FAST, finish, start_dispatcher, wait_until
from workers.agent.fake_openai import FakeOpenAI


class Output:
    """A dispatcher's output, collected line by line while it runs."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc, self.lines = proc, list[str]()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        """The first line containing `text` (fails the test if none comes in time)."""
        return wait_until(lambda: next((ln for ln in self.lines if text in ln), None), timeout)

    def end(self, sig: signal.Signals | None = signal.SIGTERM, timeout: float = 30) -> int:
        """Send `sig` (None: it is stopping on its own) and wait for the exit code."""
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self._thread.join(5)
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._thread.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def running() -> Iterator[list[Output]]:
    """Dispatchers a test starts; any still running at the end are stopped."""
    started: list[Output] = []
    yield started
    for out in started:
        out.close()


def launch(running: list[Output], *args: str) -> Output:
    out = Output(start_dispatcher(*args))
    running.append(out)
    out.wait_for("started (concurrency")
    return out


@pytest.fixture
def ops(monkeypatch: pytest.MonkeyPatch, model: list[FakeOpenAI], hermes_home: Path) -> str:
    """An agent profile whose scripted model asks for approval (card 1) or asks a
    question (card 2), then finishes."""
    monkeypatch.setenv(KEY_ENV, "sk-test")
    server = serve(
        model,
        [
            {"when": ": Push it",
             "tool_calls": [call("shell", command="git push --force origin main")]},
            {"when": ": Pick a region",
             "tool_calls": [call("ask_human", question="Which region?")]},
            {"when": "exit code", "text": "Pushed."},
            {"when": "eu-west", "text": "Using eu-west."},
        ],
    )  # fmt: skip
    return agent_profile(hermes_home, "ops", server.url)


def test_a_card_that_waits_for_a_human_says_what_for_and_when_it_resumes(
    cli: Cli, ops: str, db_url: str, running: list[Output]
) -> None:
    push = add(cli, "Push it", "--profile", ops)
    ask = add(cli, "Pick a region", "--profile", ops)
    out = launch(running, *FAST, "--lease", "10")
    approval = out.wait_for(f"card {push} 'Push it' waits for approval to run")
    assert "git push --force origin main (high risk: " in approval
    answer = out.wait_for(f"  answer: hermes board approve {push}   or: hermes board reject {push}")
    assert out.lines.index(answer) == out.lines.index(approval) + 1
    question = out.wait_for(f"card {ask} 'Pick a region' asks: Which region?")
    assert out.lines[out.lines.index(question) + 1].endswith(
        f"  answer: hermes board reply {ask} TEXT"
    )
    assert cli("board", "approve", str(push)).code == 0
    out.wait_for(f"card {push} resumed: approved")
    assert cli("board", "reply", str(ask), "eu-west").code == 0
    out.wait_for(f"card {ask} resumed with its answer")
    out.wait_for(f"card {push} done")
    out.wait_for(f"card {ask} done")
    assert out.end() == 0
    assert sum("waits for approval" in line for line in out.lines) == 1  # said once


def test_stopping_releases_a_card_that_waits_for_a_human_at_once(
    cli: Cli, ops: str, db_url: str, running: list[Output]
) -> None:
    ask = add(cli, "Pick a region", "--profile", ops)
    busy = add(cli, "busy", "--profile", "shell", "--max-attempts", "1", "--body", "sleep 30")
    out = launch(running, *FAST, "--lease", "10", "--grace", "60")
    out.wait_for(f"card {ask} 'Pick a region' asks")
    out.wait_for(f"card {busy} started")
    began = time.monotonic()
    out.proc.send_signal(signal.SIGINT)
    out.wait_for(f"card {ask} released back to ready (it was waiting for a human)", 10)
    assert time.monotonic() - began < 5  # not the 60 s grace
    out.wait_for("giving 1 running card up to 60s to finish")
    out.proc.send_signal(signal.SIGINT)  # the second Ctrl-C: now
    assert out.end(None) == 0
    assert time.monotonic() - began < 20
    text = out.text
    assert f"card {busy} released back to ready (stopped at once)" in text
    for card in (ask, busy):  # one line per release: the worker's exit adds none
        assert sum(f"card {card} released" in ln for ln in out.lines) == 1
        assert not [ln for ln in out.lines if f"card {card} " in ln and " after " in ln]
    assert out.lines[-1].endswith("stopped")
    with open_store(db_url) as store:
        for card in (ask, busy):
            assert (store.card(card).status, store.card(card).attempts) == ("ready", 0)


def test_ctrl_c_on_an_idle_dispatcher_says_it_stops(running: list[Output]) -> None:
    out = launch(running, *FAST)
    assert out.end(signal.SIGINT) == 0
    assert "stopping: nothing was running" in out.lines[-2]
    assert out.lines[-1].endswith("stopped")


def test_a_planner_turn_says_the_goal_waits_for_its_cards(
    cli: Cli, model: list[FakeOpenAI], hermes_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")
    server = serve(
        model,
        [
            {"when": "planner turn 1", "tool_calls": [
                call("board_add", title="one", profile="shell", body="sleep 1; echo one"),
                call("board_add", title="two", profile="shell", body="sleep 1; echo two"),
            ]},
            {"when": "planner turn 1", "text": "Two cards."},
            {"when": "You judge whether", "tool_calls": [call("goal_verdict", done=True,
                                                                reason="both ran")]},
        ],
    )  # fmt: skip
    agent_profile(hermes_home, "planner", server.url, description="plans goals")
    goal = int(cli("goal", "Run two things", "--no-repo").out)
    code, out = finish(start_dispatcher("--until-idle", *FAST), timeout=120)
    assert code == 0, out
    assert f"card {goal} planned after " in out
    assert "waits for its 2 cards (planner turn 1)" in out
    assert f"card {goal} running after" not in out
    assert f"card {goal} done after" in out


def test_until_idle_says_what_it_still_waits_for(cli: Cli) -> None:
    card = add(cli, "later", "--profile", "shell", "--at", "+10s", "--body", "true")
    add(cli, "later still", "--profile", "shell", "--at", "+1h", "--body", "true", "--backlog")
    code, out = finish(start_dispatcher("--until-idle", *FAST), timeout=30)
    assert code == 0, out
    waiting = next(line for line in out.splitlines() if "waiting until" in line)
    assert re.search(r"waiting until \d\d:\d\d:\d\d \(in ([1-9]|10)s\): ", waiting)
    assert waiting.endswith(f": card {card} 'later' starts")
    assert out.count("waiting until") == 1  # said once, not on every wake
    assert f"card {card} done" in out


def test_a_dispatcher_killed_with_kill_9_is_gone(
    cli: Cli, db_url: str, running: list[Output]
) -> None:
    out = launch(running, *FAST)
    shown = cli("dispatcher", "status", "--json").json()["dispatchers"]
    assert [d["state"] for d in shown] == ["running"]
    os.kill(out.proc.pid, signal.SIGKILL)
    out.proc.wait()
    (dead,) = cli("dispatcher", "status", "--json").json()["dispatchers"]
    assert (dead["state"], dead["stopped_at"], dead["lease"]) == ("gone", None, 2.0)
    human = cli("dispatcher", "status").out
    assert "gone" in human and "running" not in human
    assert cli("dispatcher", "stop").out.strip() == "no dispatcher is running on this board"


def test_dispatcher_stop_stops_one_from_another_terminal(cli: Cli, running: list[Output]) -> None:
    card = add(cli, "short", "--profile", "shell", "--body", "sleep 1; echo ok")
    out = launch(running, *FAST)
    out.wait_for(f"card {card} started")
    stopped = cli("dispatcher", "stop")
    assert stopped.code == 0, stopped.err
    assert stopped.out.splitlines()[-1].endswith(" stopped")
    assert out.end(None) == 0
    assert "stop asked through the board (hermes dispatcher stop)" in out.text
    assert f"card {card} done" in out.text  # it finished within the grace
    (entry,) = cli("dispatcher", "status", "--json").json()["dispatchers"]
    assert entry["state"] == "stopped" and entry["stop_requested_at"] is not None


def test_dispatcher_stop_picks_one_by_id_or_all(cli: Cli, running: list[Output]) -> None:
    first, second = launch(running, *FAST), launch(running, *FAST)
    ids = [d["id"] for d in cli("dispatcher", "status", "--json").json()["dispatchers"]]
    vague = cli("dispatcher", "stop")
    assert vague.code == 2 and "2 dispatchers run on this board" in vague.err
    assert "--all" in vague.err and all(i in vague.err for i in ids)
    unknown = cli("dispatcher", "stop", "nope")
    assert unknown.code == 2 and "no running dispatcher 'nope'" in unknown.err
    one = cli("dispatcher", "stop", ids[0], "--json").json()
    assert one == {"dispatchers": [{"id": ids[0], "state": "stopped"}]}
    assert first.end(None) == 0 and second.proc.poll() is None
    rest = cli("dispatcher", "stop", "--all", "--no-wait")
    assert rest.code == 0 and f"asked dispatcher {ids[1]} to stop" in rest.out
    assert second.end(None) == 0


def test_a_dispatcher_on_another_host_is_judged_by_its_heartbeat(db_url: str) -> None:
    from datetime import timedelta

    from dispatcher.registry import judge

    now = utcnow()
    with open_store(db_url) as store:
        store.register_dispatcher("far:1:aa", now, host="far", pid=1, concurrency=1, lease=30)
        then = now - timedelta(days=3)
        store.register_dispatcher("here:1:bb", then, host="here", pid=os.getpid(),
                                  concurrency=1, lease=30)  # fmt: skip
        entries = {e.info.id: e for e in store.registry(now)}
    assert judge(entries["far:1:aa"], now + timedelta(seconds=20)) == "running"
    assert judge(entries["far:1:aa"], now + timedelta(seconds=31)) == "gone"
    # this process started after that registration: the pid was reused, not the dispatcher
    assert judge(entries["here:1:bb"], now, host="here") == "gone"


def test_a_board_clock_behind_this_hosts_does_not_make_a_live_dispatcher_gone(
    db_url: str,
) -> None:
    """On PostgreSQL the registration is stamped with the server's clock and the
    process's start read off this host's: an hour between the two clocks must not make
    this (live) process look like a reused pid."""
    from datetime import timedelta

    from dispatcher.registry import judge

    board_now = utcnow() - timedelta(hours=1)  # the board's clock runs an hour behind
    with open_store(db_url) as store:
        store.register_dispatcher("here:1:cc", board_now, host="here", pid=os.getpid(),
                                  concurrency=1, lease=30)  # fmt: skip
        entry = next(e for e in store.registry(board_now) if e.info.id == "here:1:cc")
    assert judge(entry, board_now, host="here") == "running"
