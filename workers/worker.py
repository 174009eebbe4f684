"""One worker process: work one claimed run from start to finish, on its own.

The worker records itself on the run, heartbeats from a thread, prepares the workspace,
runs the profile's runner, commits, and finishes the card with its run id as the fencing
token. It needs nothing from the dispatcher after it starts, so when the dispatcher dies
its workers still finish their cards; and when its lease is lost (the run was reclaimed
or cancelled) every write it could still make is refused, and it stops.

The runner works in a thread of its own while the worker's main thread watches the
attempt's deadline: past it, the attempt is halted (every process tree it started is
killed) and ends `timeout` within a second, whatever the runner was doing - a model
call, a wait for a human, a command on any backend.
"""

from __future__ import annotations

import os
import threading
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from board import Backoff, Card, Store, open_store
from board.clock import utcnow
from hermes.config import load_config
from hermes.errors import HermesError, NotFound
from hermes.paths import logs_dir, this_host
from profiles import Profile
from workers import workspace as workspaces
from workers.agent.resume import Resume, load, resumable_run
from workers.attempt import Attempt
from workers.backends import release
from workers.context import card_secrets, make_context
from workers.heartbeat import Heartbeat
from workers.job import Prepared, WorkerJob
from workers.logs import open_log, run_log
from workers.runners import Outcome, RunContext, Runner, runner_for
from workers.runners.goal import GoalRunner
from workers.secrets import Masker

HOST = this_host()

EXIT_DONE = 0  # the run ended and the board says how (done or failed)
EXIT_FENCED = 3  # the run was no longer ours when the worker started or finished
EXIT_LOST = 4  # the lease was lost mid-run; nothing was written

WATCH = 0.1  # how often the main thread looks at the deadline
GRACE = 0.5  # how long a halted runner gets to return what it has


class _Log:
    """The worker's own lines in the run log, between the runner's output."""

    def __init__(self, path: Path, masker: Masker) -> None:
        self.path, self.masker = path, masker

    def line(self, text: str) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        with open_log(self.path) as handle:
            handle.write(f"[hermes {stamp}] {self.masker.text(text)}\n".encode())


def work(job: WorkerJob, prepared: Prepared | None = None, kept: Store | None = None) -> int:
    """Run one attempt; the return value is the process exit code (see EXIT_*).
    `prepared`: the secrets, masker and profiles, when the worker template has them."""
    secrets, masker = (prepared.secrets, prepared.masker) if prepared else card_secrets(os.environ)
    log = _Log(run_log(logs_dir(), job.card_id, job.run_id), masker)
    store = kept or open_store(job.db_url)
    try:
        card = _started(job, store)
        if card is None:
            log.line(f"run {job.run_id} is no longer live; not starting")
            return EXIT_FENCED
        return _attempt(job, store, log, secrets, prepared, card)
    finally:
        if store is not kept:
            store.close()


def _started(job: WorkerJob, store: Store) -> Card | None:
    """Record the worker and the card's workspace on the run (one transaction: the
    `started` event); the card, or None when the run is no longer live."""
    try:
        card = store.card(job.card_id)
    except NotFound:  # removed after its run ended
        return None
    path, branch = workspaces.location(card)
    pid = os.getpid()
    workspace = {"branch": branch, "worktree": str(path)}
    if not store.start_run(job.run_id, utcnow(), job.lease, pid=pid, host=HOST, **workspace):
        return None
    return card


def _attempt(
    job: WorkerJob,
    store: Store,
    log: _Log,
    secrets: frozenset[str],
    prepared: Prepared | None,
    card: Card,
) -> int:
    attempt = Attempt(card.timeout)
    heartbeat = Heartbeat(
        job.db_url, job.run_id, job.heartbeat, job.lease, lambda: _lost(attempt, log)
    )
    heartbeat.start()
    log.line(f"run {job.run_id} of card {card.id} ({card.profile}) started, pid {os.getpid()}")
    review = False
    try:
        known = prepared.profiles.get(card.profile) if prepared else None
        profile = known or load_config().load_profile(card.profile)
        if card.model:  # the card names its own model
            profile = profile.model_copy(update={"model": card.model})
        review, attempt.human_timeout = profile.review, profile.human_timeout
        work = _Work(job, store, log, card, profile, attempt, secrets)
        outcome, busy = work.supervise()
    except HermesError as exc:  # the profile is gone or broken: retrying cannot help
        outcome, busy = Outcome(False, "", str(exc), final=not exc.retryable), False
    finally:
        heartbeat.stop()
        attempt.kill_all()  # background processes of the attempt end with it
        release()  # ssh connections
    if attempt.reason == "lost":
        log.line("lease lost: the run was reclaimed or cancelled; stopping without a result")
        return EXIT_LOST
    if not busy:
        return _finish(job, store, log, outcome, review)
    # The halted runner may still be using the worker's connection: finish on a new one.
    with open_store(job.db_url) as finisher:
        return _finish(job, finisher, log, outcome, review)


@dataclass(frozen=True, slots=True)
class _Work:
    """One attempt's parts, for the runner's thread and the watch over it."""

    job: WorkerJob
    store: Store
    log: _Log
    card: Card
    profile: Profile
    attempt: Attempt
    secrets: frozenset[str]

    def supervise(self) -> tuple[Outcome, bool]:
        """Run the attempt in a thread; halt it at its deadline. Says whether the runner
        is still busy (it did not return within the grace after a halt)."""
        outcomes: list[Outcome] = []
        done = threading.Event()

        def body() -> None:
            try:
                outcomes.append(self.run())
            except HermesError as exc:
                outcomes.append(Outcome(False, "", str(exc), final=not exc.retryable))
            except Exception as exc:  # a bug: fail the attempt visibly rather than vanish
                self.log.line(traceback.format_exc().rstrip())
                outcomes.append(Outcome(False, "", f"worker error: {type(exc).__name__}: {exc}"))
            finally:
                done.set()

        threading.Thread(target=body, name=f"attempt-run-{self.job.run_id}", daemon=True).start()
        attempt = self.attempt
        while not done.wait(WATCH) and not attempt.stop.is_set():  # a lost lease sets stop
            if (why := attempt.overdue()) is not None and not done.is_set():
                attempt.halt("timeout", why)
                break
        if attempt.reason is None:
            return outcomes[0], False
        busy = not done.wait(GRACE)  # the runner's partial result, if it comes back in time
        if attempt.reason != "timeout":
            return Outcome(False, "", "stopped: the lease was lost"), busy
        self.log.line(attempt.why)
        partial = outcomes[0] if outcomes else Outcome(False, "")
        return Outcome(
            False, partial.result, attempt.why, timed_out=True, usage=partial.usage
        ), busy

    def run(self) -> Outcome:
        """Prepare the workspace, run the runner, commit what it did."""
        card, store, log = self.card, self.store, self.log
        budget = store.goal_budget(card.id)
        runner: Runner = (
            GoalRunner(budget) if budget is not None else runner_for(self.profile.runner)
        )
        path, branch = workspaces.location(card)  # recorded on the run as it started
        log.line(f"workspace {path}" + (f" on {branch}" if branch else ""))
        resume = self.resume(path) if budget is None and self.profile.runner == "agent" else None
        space = workspaces.prepare(card, store, keep=resume is not None)
        try:
            outcome = runner.run(self.context(space, resume))
            if outcome.ok and not self.attempt.stop.is_set():
                committed = workspaces.commit(space, card)
                if committed is not None and committed.sha:
                    log.line(f"committed {committed.sha[:10]} on {space.branch}")
                if committed is not None and committed.left_out:
                    nested = ", ".join(committed.left_out)
                    log.line(f"not committed: {nested} (a git repository of its own)")
            return outcome
        finally:
            os.close(space.lock_fd)

    def resume(self, workspace: Path) -> Resume | None:
        """The conversation to go on with, when the card's previous run was taken back
        while it waited for a human and left its workspace and transcript behind."""
        previous = resumable_run(self.store, self.card.id, self.job.run_id)
        if previous is None or not workspace.is_dir():
            return None
        transcript = run_log(logs_dir(), self.card.id, previous).with_suffix(".jsonl")
        found = load(transcript, previous)
        if found is not None:
            self.log.line(f"going on with run {previous}'s conversation (it waited for a human)")
        return found

    def context(self, space: workspaces.Workspace, resume: Resume | None = None) -> RunContext:
        """The runner's context, as every runner gets it."""
        run_id, store = self.job.run_id, self.store
        return make_context(
            card=self.card,
            run_id=run_id,
            workspace=space.path,
            log_path=self.log.path,
            profile=self.profile,
            store=store,
            attempt=self.attempt,
            secrets=self.secrets,
            masker=self.log.masker,
            repo_git=workspaces.git_dir(space) if space.repo is not None else None,
            on_process=lambda group: _record_group(store, run_id, group),
            report=self.log.line,
            db_url=self.job.db_url,
            resume=resume,
        )


def _finish(job: WorkerJob, store: Store, log: _Log, outcome: Outcome, review: bool) -> int:
    now = utcnow()
    mask = log.masker
    if outcome.ok and outcome.plan is not None:
        applied = store.park_goal(job.run_id, now, outcome.plan, usage=outcome.usage)
        log.line(f"planner turn {outcome.plan['turn']} done; the goal waits for its cards")
    elif outcome.ok:
        result = mask.text(outcome.result)
        applied = store.complete(job.run_id, now, result=result, review=review, usage=outcome.usage)
        log.line("done" + (" (waiting for review)" if review else ""))
    else:
        error = mask.text(outcome.error or "failed")
        applied = store.fail(
            job.run_id,
            now,
            error,
            outcome="timeout" if outcome.timed_out else "failed",
            exit_code=outcome.exit_code,
            result=mask.optional(outcome.result or None),
            usage=outcome.usage,
            backoff=Backoff(job.backoff_base, job.backoff_cap),
            retry=not outcome.final,
        )
        log.line(f"failed: {error}")
    return EXIT_DONE if applied else EXIT_FENCED


def _record_group(store: Store, run_id: int, group: int) -> None:
    """Record a process group of card work on the run: if this worker dies, whoever
    reclaims the run kills it."""
    store.set_runner(run_id, group)


def _lost(attempt: Attempt, log: _Log) -> None:
    """The lease is gone: kill the runner now (the heartbeat thread calls this)."""
    log.line("lease lost; killing the runner")
    attempt.halt("lost")
