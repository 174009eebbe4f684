"""The dispatcher and its workers as real processes, with real signals."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from itertools import pairwise
from pathlib import Path

import pytest

from board import Store, open_store
from board.clock import parse_iso, utcnow
from tests.conftest import Cli, add
from tests.helpers.processes import (
    FAST,
    dispatcher,
    finish,
    gone,
    local_shell,
    start_dispatcher,
    wait_until,
)


def runs_of(store: Store, card_id: int) -> list[str]:
    return [run.outcome for run in store.detail(card_id).runs]


def status(store: Store, card_id: int) -> str:
    return store.card(card_id).status


def live_pid(store: Store, card_id: int) -> tuple[int, int] | None:
    """(worker pid, runner pid) of the card's live run once both are known."""
    for run in store.detail(card_id).runs:
        if run.outcome == "running" and run.pid and run.runner_pid:
            return run.pid, run.runner_pid
    return None


@pytest.mark.engines("sqlite", "postgres")
def test_a_dag_runs_in_dependency_order_and_the_dispatcher_exits_when_idle(
    cli: Cli, db_url: str
) -> None:
    a = add(cli, "a", "--profile", "shell", "--body", "sleep 0.3; echo A")
    b = add(cli, "b", "--profile", "shell", "--after", str(a), "--body", "echo B")
    c = add(cli, "c", "--profile", "shell", "--after", str(a), "--body", "echo C")
    d = add(
        cli, "d", "--profile", "shell", "--after", str(b), "--after", str(c), "--body", "echo D"
    )
    code, out = finish(start_dispatcher("--until-idle", *FAST))
    assert code == 0, out
    with open_store(db_url) as store:
        assert [status(store, x) for x in (a, b, c, d)] == ["done"] * 4
        assert store.card(d).result == "D\n"

        def moment(card_id: int, kind: str) -> str:
            return next(e.at for e in store.detail(card_id).events if e.kind == kind)

        assert moment(a, "completed") < moment(b, "started")
        assert moment(a, "completed") < moment(c, "started")
        assert max(moment(b, "completed"), moment(c, "completed")) < moment(d, "started")
    assert "idle: nothing left that can run" in out


def test_failures_retry_with_backoff_then_fail_with_the_error_visible(
    cli: Cli, db_url: str
) -> None:
    card = add(
        cli, "flaky", "--profile", "shell", "--max-attempts", "3", "--body", "echo oops >&2; exit 7"
    )
    code, out = finish(start_dispatcher("--until-idle", *FAST))
    assert code == 0, out
    with open_store(db_url) as store:
        detail = store.detail(card)
        assert detail.card.status == "failed"
        assert [(r.outcome, r.exit_code) for r in detail.runs] == [("failed", 7)] * 3
        retries = [e.data["retry_at"] for e in detail.events if e.kind == "failed"][:2]
        gaps = [
            parse_iso(r) - parse_iso(e.at)
            for r, e in zip(retries, [e for e in detail.events if e.kind == "failed"], strict=False)
        ]
        assert [round(g.total_seconds(), 1) for g in gaps] == [0.2, 0.4]  # 0.2 x 2^(n-1)
    shown = cli("board", "show", str(card)).out
    assert "last error" in shown and "exit status 7: oops" in shown


def test_a_timeout_kills_the_runner_and_ends_the_run_as_timeout(
    cli: Cli, db_url: str, hermes_home: Path
) -> None:
    card = add(
        cli,
        "slow",
        "--profile",
        local_shell(hermes_home),  # the sleeper's pid must be a host pid
        "--timeout",
        "1",
        "--max-attempts",
        "1",
        "--body",
        "sleep 30 & echo $! > sleeper.pid; wait",
    )
    code, out = finish(start_dispatcher("--until-idle", *FAST))
    assert code == 0, out
    with open_store(db_url) as store:
        detail = store.detail(card)
        assert detail.card.status == "failed"
        assert detail.runs[0].outcome == "timeout"
        assert detail.runs[0].error == "timed out after 1s"
        sleeper = int((Path(detail.card.worktree or "") / "sleeper.pid").read_text())
    assert gone(sleeper)  # the whole process group went, not only bash


def test_kill_9_of_a_worker_is_reclaimed_at_once_and_retried(cli: Cli, db_url: str) -> None:
    card = add(
        cli,
        "survivor",
        "--profile",
        "shell",
        "--body",
        "if [ -e first ]; then echo second; else touch first; sleep 30; fi",
    )
    with dispatcher(*FAST, "--lease", "30") as proc, open_store(db_url) as store:
        worker, runner = wait_until(lambda: live_pid(store, card))
        # killed in its `sleep 30`, not before its `touch first` ran (the sandbox takes
        # a moment to start the command: killed sooner, every attempt would sleep)
        wait_until(lambda: (Path(store.card(card).worktree or "/nonexistent") / "first").exists())
        os.kill(worker, signal.SIGKILL)
        wait_until(lambda: status(store, card) == "done", timeout=10)
        assert runs_of(store, card) == ["reclaimed", "done"]
        reclaimed = next(e for e in store.detail(card).events if e.kind == "reclaimed")
        assert "killed by SIGKILL" in reclaimed.data["reason"]
        wait_until(lambda: gone(runner))  # its runner (sleep 30) was killed too
        started = [e.at for e in store.detail(card).events if e.kind == "started"]
        # far sooner than the 30 s lease: the exit itself was the signal
        assert (parse_iso(reclaimed.at) - parse_iso(started[0])).total_seconds() < 3
        assert proc.poll() is None


def test_a_frozen_worker_is_reclaimed_after_its_lease_and_killed(cli: Cli, db_url: str) -> None:
    card = add(
        cli,
        "frozen",
        "--profile",
        "shell",
        "--body",
        "if [ -e first ]; then echo thawed; else touch first; sleep 30; fi",
    )
    with dispatcher(*FAST) as proc, open_store(db_url) as store:
        worker, runner = wait_until(lambda: live_pid(store, card))
        os.killpg(worker, signal.SIGSTOP)
        frozen_at = utcnow()
        wait_until(lambda: "reclaimed" in runs_of(store, card), timeout=10)
        reclaimed = next(e for e in store.detail(card).events if e.kind == "reclaimed")
        waited = (parse_iso(reclaimed.at) - frozen_at).total_seconds()
        assert waited < 2 + 1.5  # lease 2 s (+ the last heartbeat's age) + under a second
        wait_until(lambda: gone(worker) and gone(runner))
        wait_until(lambda: status(store, card) == "done", timeout=10)
        assert runs_of(store, card) == ["reclaimed", "done"]
        assert proc.poll() is None


def test_orphans_of_a_killed_dispatcher_finish_and_a_new_one_completes_the_rest(
    cli: Cli, db_url: str
) -> None:
    cards = [
        add(cli, f"job {n}", "--profile", "shell", "--body", "sleep 1; echo ok") for n in range(4)
    ]
    first = start_dispatcher(*FAST, "--concurrency", "2", "--lease", "10")
    with open_store(db_url) as store:
        wait_until(lambda: len([c for c in cards if live_pid(store, c)]) == 2)
        os.killpg(first.pid, signal.SIGKILL)  # the dispatcher and its template, not workers
        finish(first)
        orphans = [c for c in cards if status(store, c) == "running"]
        assert len(orphans) == 2
        wait_until(lambda: all(status(store, c) == "done" for c in orphans), timeout=10)
        code, out = finish(start_dispatcher("--until-idle", *FAST))
        assert code == 0, out
        for card in cards:
            assert runs_of(store, card) == ["done"], (card, runs_of(store, card))


def test_three_dispatchers_share_a_board_and_claim_each_card_once(cli: Cli, db_url: str) -> None:
    with open_store(db_url) as store:
        from board import NewCard

        for n in range(150):
            store.add_card(NewCard(f"card {n}", "shell", 1, body="true"), utcnow())
    procs = [start_dispatcher("--until-idle", *FAST, "--concurrency", "3") for _ in range(3)]
    outputs = [finish(proc, timeout=120) for proc in procs]
    assert [code for code, _ in outputs] == [0, 0, 0], outputs
    with open_store(db_url) as store:
        runs = store.db.cx.execute("SELECT card_id, outcome FROM runs").fetchall()
        assert len(runs) == 150 and {o for _, o in runs} == {"done"}
        assert len({card for card, _ in runs}) == 150
    claimed_by = [out.count("started:") for _, out in outputs]
    assert sum(claimed_by) == 150 and min(claimed_by) > 0


def test_sigterm_lets_short_work_finish_and_releases_the_rest(cli: Cli, db_url: str) -> None:
    quick = add(cli, "quick", "--profile", "shell", "--body", "sleep 1; echo quick")
    slow = add(cli, "slow", "--profile", "shell", "--max-attempts", "1", "--body", "sleep 30")
    with dispatcher(*FAST, "--grace", "2.5") as proc, open_store(db_url) as store:
        wait_until(lambda: live_pid(store, quick) and live_pid(store, slow))
        _, slow_runner = live_pid(store, slow) or (0, 0)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
        out = proc.stdout.read() if proc.stdout else ""
        assert code == 0, out
        assert status(store, quick) == "done"
        card = store.card(slow)
        assert (card.status, card.attempts) == ("ready", 0)  # released, attempt given back
        assert runs_of(store, slow) == ["reclaimed"]
        assert gone(slow_runner)
        assert "released back to ready" in out


def test_a_worker_that_outlived_its_lease_cannot_change_the_card(cli: Cli, db_url: str) -> None:
    card = add(cli, "zombie", "--profile", "shell", "--body", "sleep 1; echo late > late.txt")
    with dispatcher(*FAST, "--lease", "30") as proc, open_store(db_url) as store:
        worker, runner = wait_until(lambda: live_pid(store, card))
        run_id = store.detail(card).runs[0].id
        os.kill(worker, signal.SIGSTOP)  # freeze it, then take its card away
        assert store.reclaim(run_id, utcnow(), "test: taken away", "test")
        store.cancel(card, utcnow())
        with contextlib.suppress(ProcessLookupError):  # the dispatcher may have killed it
            os.kill(worker, signal.SIGCONT)
        wait_until(lambda: gone(worker) and gone(runner), timeout=10)
        detail = store.detail(card)
        assert detail.card.status == "cancelled" and detail.card.result is None
        assert [r.outcome for r in detail.runs] == ["reclaimed"]
        assert proc.poll() is None


def test_cancelling_a_running_card_stops_its_worker_promptly(cli: Cli, db_url: str) -> None:
    card = add(cli, "long", "--profile", "shell", "--body", "sleep 30")
    with (
        dispatcher(*FAST, "--heartbeat", "5", "--lease", "30") as proc,
        open_store(db_url) as store,
    ):
        worker, runner = wait_until(lambda: live_pid(store, card))
        assert cli("board", "cancel", str(card)).code == 0
        wait_until(lambda: gone(worker) and gone(runner), timeout=3)  # not the 5 s heartbeat
        assert runs_of(store, card) == ["cancelled"]
        assert proc.poll() is None


def test_scheduled_cards_start_on_time_without_waiting_for_a_tick(cli: Cli, db_url: str) -> None:
    with dispatcher("--tick", "30") as proc, open_store(db_url) as store:
        wait_until(lambda: store.dispatchers(utcnow()))
        card = add(cli, "later", "--profile", "shell", "--at", "+2s", "--body", "true")
        wait_until(lambda: status(store, card) == "done", timeout=10)
        detail = store.detail(card)
        started = next(e.at for e in detail.events if e.kind == "claimed")
        late = (parse_iso(started) - parse_iso(detail.card.not_before or "")).total_seconds()
        assert 0 <= late < 0.5
        assert proc.poll() is None


def test_a_new_card_starts_at_once_while_the_dispatcher_idles(cli: Cli, db_url: str) -> None:
    with dispatcher("--tick", "30") as proc, open_store(db_url) as store:
        wait_until(lambda: store.dispatchers(utcnow()))
        card = add(cli, "now", "--profile", "shell", "--body", "true")
        wait_until(lambda: status(store, card) == "done", timeout=5)
        detail = store.detail(card)
        claimed = next(e.at for e in detail.events if e.kind == "claimed")
        assert (parse_iso(claimed) - parse_iso(detail.card.created_at)).total_seconds() < 1
        assert proc.poll() is None


def test_status_shows_dispatchers_and_live_runs(cli: Cli, db_url: str) -> None:
    card = add(cli, "visible", "--profile", "shell", "--body", "sleep 30")
    with dispatcher(*FAST) as _proc, open_store(db_url) as store:
        wait_until(lambda: live_pid(store, card))
        shown = cli("dispatcher", "status", "--json").json()
        assert len(shown["dispatchers"]) == 1 and shown["dispatchers"][0]["stopped_at"] is None
        (run,) = shown["runs"]
        assert (run["card_id"], run["title"], run["status"]) == (card, "visible", "running")
        assert run["lease_expires_at"] > run["heartbeat_at"]
        human = cli("dispatcher", "status").out
        assert "visible" in human and "running" in human and "lease" in human


def test_log_follow_streams_until_the_card_finishes(cli: Cli, db_url: str) -> None:
    card = add(
        cli,
        "talker",
        "--profile",
        "shell",
        "--body",
        "for i in 1 2 3; do echo line $i; sleep 0.3; done",
    )
    with dispatcher(*FAST):
        followed = cli("board", "log", str(card), "--follow")
    assert followed.code == 0
    assert "line 1\nline 2\nline 3\n" in followed.out
    assert "done" in followed.out.splitlines()[-1]


def test_bad_dispatcher_settings_are_refused(cli: Cli) -> None:
    for args, message in (
        (["--concurrency", "0"], "--concurrency 0 must be between 1 and 1,000"),
        (["--lease", "5", "--heartbeat", "10"], "--lease 5 must be longer than --heartbeat 10"),
        (["--tick", "0"], "--tick 0 must be between 0.01 and 86,400 seconds"),
    ):
        result = cli("dispatcher", "start", *args)
        assert result.code == 2 and result.err.startswith("error: ") and message in result.err


def test_dispatcher_json_status_without_a_dispatcher(cli: Cli) -> None:
    assert json.loads(cli("dispatcher", "status", "--json").out) == {"dispatchers": [], "runs": []}


def test_a_profiles_concurrency_limits_its_cards_across_the_board(
    cli: Cli, db_url: str, hermes_home: Path
) -> None:
    (hermes_home / "profiles").mkdir(parents=True, exist_ok=True)
    (hermes_home / "profiles" / "solo.yaml").write_text("runner: command\nconcurrency: 1\n")
    solo = [add(cli, f"solo {n}", "--profile", "solo", "--body", "sleep 0.5") for n in range(3)]
    other = [add(cli, f"other {n}", "--profile", "shell", "--body", "sleep 0.5") for n in range(3)]
    code, out = finish(start_dispatcher("--until-idle", *FAST, "--concurrency", "4"))
    assert code == 0, out
    with open_store(db_url) as store:

        def spans(cards: list[int]) -> list[tuple[str, str]]:
            return sorted(
                (r.started_at, r.ended_at or "") for c in cards for r in store.detail(c).runs
            )

        solo_spans = spans(solo)
        assert all(end <= start for (_, end), (start, _) in pairwise(solo_spans))
        other_spans = spans(other)  # shell allows 4: these overlapped
        assert any(end > start for (_, end), (start, _) in pairwise(other_spans))


def test_a_dead_side_task_stops_the_dispatcher_loudly(cli: Cli, db_url: str) -> None:
    card = add(cli, "outlives it", "--profile", "shell", "--body", "sleep 1; echo fine")
    with dispatcher(*FAST) as proc, open_store(db_url) as store:
        wait_until(lambda: live_pid(store, card))
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        template = int(children[0])
        os.kill(template, signal.SIGKILL)  # the worker template: no more workers can start
        code = proc.wait(timeout=10)
        out = proc.stdout.read() if proc.stdout else ""
        assert code == 1
        assert "error: dispatcher task 'worker-events' stopped" in out
        wait_until(lambda: status(store, card) == "done", timeout=10)  # its worker finished
        assert runs_of(store, card) == ["done"]


def test_up_runs_the_dispatcher(cli: Cli, db_url: str) -> None:
    card = add(cli, "via up", "--profile", "shell", "--body", "echo up")
    result = cli("up", "--until-idle", *FAST)
    assert result.code == 0, result.err
    assert "idle: nothing left that can run" in result.out
    with open_store(db_url) as store:
        assert store.card(card).status == "done"
