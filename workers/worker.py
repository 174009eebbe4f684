"""One worker process: work one claimed run from start to finish, on its own.

The worker records itself on the run, heartbeats from a thread, prepares the workspace,
runs the profile's runner, commits, and finishes the card with its run id as the fencing
token. It needs nothing from the dispatcher after it starts, so when the dispatcher dies
its workers still finish their cards; and when its lease is lost (the run was reclaimed
or cancelled) every write it could still make is refused, and it stops.
"""

from __future__ import annotations

import os
import socket
import traceback
from datetime import datetime
from pathlib import Path

from board import Backoff, Card, Store, open_store
from board.clock import utcnow
from hermes.errors import HermesError
from hermes.paths import logs_dir, profiles_dir
from profiles import Profile, load_profile
from workers import workspace as workspaces
from workers.heartbeat import Heartbeat
from workers.job import WorkerJob
from workers.logs import run_log
from workers.runners import Outcome, RunContext, Runner, runner_for
from workers.runners.command import kill_group
from workers.runners.goal import GoalRunner

HOST = socket.gethostname()

EXIT_DONE = 0  # the run ended and the board says how (done or failed)
EXIT_FENCED = 3  # the run was no longer ours when the worker started or finished
EXIT_LOST = 4  # the lease was lost mid-run; nothing was written


class _Log:
    """The worker's own lines in the run log, between the runner's output."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path

    def line(self, text: str) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(f"[hermes {stamp}] {text}\n")


def work(job: WorkerJob) -> int:
    """Run one attempt; the return value is the process exit code (see EXIT_*)."""
    log = _Log(run_log(logs_dir(), job.card_id, job.run_id))
    store = open_store(job.db_url)
    try:
        if not store.start_run(job.run_id, utcnow(), job.lease, pid=os.getpid(), host=HOST):
            log.line(f"run {job.run_id} is no longer live; not starting")
            return EXIT_FENCED
        return _attempt(job, store, log)
    finally:
        store.close()


def _attempt(job: WorkerJob, store: Store, log: _Log) -> int:
    card = store.card(job.card_id)
    runner_group: list[int] = []
    heartbeat = Heartbeat(
        job.db_url, job.run_id, job.heartbeat, job.lease, lambda: _stop(runner_group, log)
    )
    heartbeat.start()
    log.line(f"run {job.run_id} of card {card.id} ({card.profile}) started, pid {os.getpid()}")
    review = False
    try:
        profile = load_profile(card.profile, profiles_dir())
        review = profile.review
        outcome = _run(job, store, log, card, profile, heartbeat, runner_group)
    except HermesError as exc:
        outcome = Outcome(False, "", str(exc))
    except Exception as exc:  # a bug: fail the attempt visibly rather than vanish
        log.line(traceback.format_exc().rstrip())
        outcome = Outcome(False, "", f"worker error: {type(exc).__name__}: {exc}")
    finally:
        heartbeat.stop()
    if heartbeat.lost.is_set():
        log.line("lease lost: the run was reclaimed or cancelled; stopping without a result")
        return EXIT_LOST
    return _finish(job, store, log, outcome, review)


def _run(
    job: WorkerJob,
    store: Store,
    log: _Log,
    card: Card,
    profile: Profile,
    heartbeat: Heartbeat,
    runner_group: list[int],
) -> Outcome:
    budget = store.goal_budget(card.id)
    runner: Runner = GoalRunner(budget) if budget is not None else runner_for(profile.runner)
    path, branch = workspaces.location(card)
    store.set_workspace(job.run_id, utcnow(), branch=branch, worktree=str(path))
    log.line(f"workspace {path}" + (f" on {branch}" if branch else ""))
    space = workspaces.prepare(card, store)
    try:

        def started(pgid: int) -> None:
            runner_group.append(pgid)
            store.set_runner(job.run_id, pgid)

        ctx = RunContext(
            card,
            job.run_id,
            space.path,
            log.path,
            card.timeout,
            heartbeat.lost,
            started,
            profile,
            store,
        )
        outcome = runner.run(ctx)
        if outcome.ok and not heartbeat.lost.is_set():
            sha = workspaces.commit(space, card)
            if sha:
                log.line(f"committed {sha[:10]} on {space.branch}")
        return outcome
    finally:
        os.close(space.lock_fd)


def _finish(job: WorkerJob, store: Store, log: _Log, outcome: Outcome, review: bool) -> int:
    now = utcnow()
    if outcome.ok and outcome.plan is not None:
        applied = store.park_goal(job.run_id, now, outcome.plan, usage=outcome.usage)
        log.line(f"planner turn {outcome.plan['turn']} done; the goal waits for its cards")
    elif outcome.ok:
        applied = store.complete(
            job.run_id, now, result=outcome.result, review=review, usage=outcome.usage
        )
        log.line("done" + (" (waiting for review)" if review else ""))
    else:
        applied = store.fail(
            job.run_id,
            now,
            outcome.error or "failed",
            outcome="timeout" if outcome.timed_out else "failed",
            exit_code=outcome.exit_code,
            result=outcome.result or None,
            usage=outcome.usage,
            backoff=Backoff(job.backoff_base, job.backoff_cap),
            retry=not outcome.final,
        )
        log.line(f"failed: {outcome.error}")
    return EXIT_DONE if applied else EXIT_FENCED


def _stop(runner_group: list[int], log: _Log) -> None:
    """The lease is gone: kill the runner now (the heartbeat thread calls this)."""
    log.line("lease lost; killing the runner")
    for pgid in runner_group:
        kill_group(pgid)
