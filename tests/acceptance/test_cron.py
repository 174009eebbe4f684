"""Cron with real dispatcher processes: one card per fire across dispatchers and a kill -9,
pause, resume and run-now from the CLI, overlapping fires skipped."""

from __future__ import annotations

import os
import signal
import time
from itertools import pairwise

from board import open_store
from board.clock import parse_iso
from tests.conftest import Cli
from tests.helpers.processes import FAST, dispatcher, start_dispatcher, wait_until


def add_job(cli: Cli, *args: str) -> int:
    result = cli("cron", "add", *args)
    assert result.code == 0, result.err
    return int(result.out)


def fire_times(db_url: str, job_id: int) -> list[str]:
    with open_store(db_url) as store:
        return sorted(
            e["data"]["fire_at"] for e in store.job_events(job_id) if e["kind"] == "fired"
        )


def test_two_dispatchers_and_a_kill_9_make_exactly_one_card_per_fire(cli: Cli, db_url: str) -> None:
    job_id = add_job(
        cli,
        "every 2 seconds",
        "Tick",
        "--profile",
        "shell",
        "--no-repo",
        "--body",
        "true",
        "--overlap",
        "allow",
        "--tz",
        "UTC",
    )
    first = start_dispatcher(*FAST)
    second = start_dispatcher(*FAST)
    try:
        time.sleep(5)
        os.killpg(first.pid, signal.SIGKILL)  # one dispatcher (and its template) dies
        first.communicate()
        time.sleep(6)
    finally:
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=30)
    fires = fire_times(db_url, job_id)
    assert len(fires) >= 4
    gaps = {(parse_iso(b) - parse_iso(a)).total_seconds() for a, b in pairwise(fires)}
    assert gaps == {2.0}  # no fire lost, none doubled
    with open_store(db_url) as store:
        cards = store.children_of_source(f"cron:{job_id}")
    keys = [card.key for card in cards]
    assert len(keys) == len(set(keys)) == len(fires)
    assert {key.split(":", 2)[2] for key in keys if key} == set(fires)


def test_pause_resume_and_run_now_from_the_cli(cli: Cli, db_url: str) -> None:
    job_id = add_job(
        cli,
        "every 1 seconds",
        "Pulse",
        "--profile",
        "shell",
        "--no-repo",
        "--body",
        "true",
        "--overlap",
        "allow",
    )
    assert cli("cron", "pause", str(job_id)).out == f"cron job {job_id} paused\n"
    with dispatcher(*FAST):
        time.sleep(3)
        assert fire_times(db_url, job_id) == []  # paused: nothing fires
        manual = cli("cron", "run", str(job_id))
        assert manual.code == 0
        with open_store(db_url) as store:
            assert store.card(int(manual.out)).source == f"cron:{job_id}"
        assert cli("cron", "resume", str(job_id)).out.startswith(f"cron job {job_id} resumed")
        wait_until(lambda: len(fire_times(db_url, job_id)) >= 2, timeout=10)
    listed = cli("cron", "list", "--json").json()[0]
    assert listed["id"] == job_id and listed["last_card_status"] in ("done", "ready", "running")
    assert "Pulse" in cli("cron", "list").out


def test_overlapping_fires_are_skipped_while_the_last_card_runs(cli: Cli, db_url: str) -> None:
    job_id = add_job(
        cli, "every 1 seconds", "Slow", "--profile", "shell", "--no-repo", "--body", "sleep 2.5"
    )
    with dispatcher(*FAST):
        wait_until(lambda: len(fire_times(db_url, job_id)) >= 2, timeout=20)
    with open_store(db_url) as store:
        kinds = [e["kind"] for e in store.job_events(job_id)]
        cards = store.children_of_source(f"cron:{job_id}")
        spans = sorted(
            (run.started_at, run.ended_at or "9")
            for card in cards
            for run in store.detail(card.id).runs
        )
    assert "skipped" in kinds
    assert all(end <= start for (_, end), (start, _) in pairwise(spans))  # never two at once


def test_bad_cron_input_is_refused(cli: Cli) -> None:
    for args, message in (
        (
            ["cron", "add", "now and then", "x"],
            "schedule 'now and then' is not understood; use a cron",
        ),
        (["cron", "add", "every 5 minutes", "x", "--tz", "Nowhere/City"], "--tz 'Nowhere/City'"),
        (
            ["cron", "add", "every 5 minutes", "x", "--overlap", "sometimes"],
            "--overlap 'sometimes'",
        ),
        (["cron", "add", "every 5 minutes", "x", "--deliver", "nowhere"], "PLATFORM:CHAT"),
        (["cron", "add", "every 5 minutes", "x", "--profile", "ghost"], "unknown profile 'ghost'"),
        (["cron", "pause", "42"], "cron job 42 does not exist"),
        (["cron", "rm", "42"], "cron job 42 does not exist"),
    ):
        result = cli(*args)
        assert result.code == 2 and result.err.startswith("error: ") and message in result.err, (
            result.err
        )
    assert cli("cron", "list", "--json").json() == []
