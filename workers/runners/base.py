"""What every runner gets and gives back, and how it runs a process for card work."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from board import Card, Store, Usage
from profiles import Profile
from workers.attempt import Attempt
from workers.backends.base import Backend
from workers.secrets import MaskedStream, Masker

if TYPE_CHECKING:
    from workers.agent.resume import Resume

POLL = 0.05


@dataclass(frozen=True, slots=True)
class RunContext:
    """Everything a runner needs for one attempt."""

    card: Card
    run_id: int
    workspace: Path
    log_path: Path
    profile: Profile
    store: Store  # the worker's connection, used by the runner's thread while it runs
    attempt: Attempt  # the stop signal (deadline or lost lease) and live process trees
    backend: Backend  # where card work executes
    env: dict[str, str]  # the environment of card work: no secrets, plus the card's ids
    masker: Masker  # secrets -> *** in everything written
    on_process: Callable[[int], None]  # records a started process group on the run
    resume: Resume | None = None  # an agent conversation to go on with

    @property
    def stop(self) -> threading.Event:
        """Set when the attempt must end now (its deadline passed or its lease was lost)."""
        return self.attempt.stop


@dataclass(frozen=True, slots=True)
class Finished:
    """How a process of card work ended: its exit code, or why it was stopped."""

    code: int | None  # None: killed by hermes (see `timed_out`, else the attempt halted)
    timed_out: bool = False  # its own limit (a shell tool call's) passed


def execute(
    ctx: RunContext, argv: list[str], sink: BinaryIO, limit: float | None = None
) -> Finished:
    """Run `argv` on the profile's backend in the workspace, its output masked into
    `sink`, until it exits, `limit` seconds pass, or the attempt halts."""
    stream = MaskedStream(sink, ctx.masker)
    execution = ctx.backend.start(argv, workspace=ctx.workspace, env=ctx.env, output=stream)
    ctx.attempt.track(execution)
    try:
        if execution.group is not None:
            ctx.on_process(execution.group)
        deadline = None if limit is None else time.monotonic() + limit
        while (code := execution.wait(POLL)) is None:
            over = deadline is not None and time.monotonic() >= deadline
            if ctx.stop.is_set() or over:
                execution.kill()
                execution.wait()
                return Finished(None, timed_out=over and not ctx.stop.is_set())
        return Finished(code)
    finally:
        ctx.attempt.forget(execution)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How the attempt ended; `result` is what the card shows (the output's tail)."""

    ok: bool
    result: str
    error: str | None = None
    exit_code: int | None = None
    timed_out: bool = False
    usage: Usage | None = None  # tokens and cost, for runners that call a model
    final: bool = False  # a failure that retrying cannot fix (a goal's budget is spent)
    plan: dict[str, Any] | None = None  # a goal's planner turn: it now waits for children


class Runner(Protocol):
    """Works one attempt of a card in its workspace."""

    def run(self, ctx: RunContext) -> Outcome:
        """Run to completion or until `ctx.stop` is set, and say how it went."""
        ...
