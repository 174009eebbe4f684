"""What every runner gets and gives back."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from board import Card, Store, Usage
from profiles import Profile


@dataclass(frozen=True, slots=True)
class RunContext:
    """Everything a runner needs for one attempt."""

    card: Card
    run_id: int
    workspace: Path
    log_path: Path
    timeout: float | None
    lost: threading.Event  # set when the lease is lost: stop at once
    on_process: Callable[[int], None]  # called with the runner's process group id
    profile: Profile
    store: Store  # the worker's own connection (used from the worker's main thread)


def run_env(ctx: RunContext) -> dict[str, str]:
    """The environment of a process a run starts: ours, plus which card, run and workspace."""
    return {
        **os.environ,
        "HERMES_CARD_ID": str(ctx.card.id),
        "HERMES_RUN_ID": str(ctx.run_id),
        "HERMES_WORKSPACE": str(ctx.workspace),
    }


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
        """Run to completion, timeout or lease loss, and say how it went."""
        ...
