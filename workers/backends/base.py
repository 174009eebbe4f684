"""Where card work executes: the seam every backend fills.

A backend starts one process tree for card work (a command card's body, an agent's
shell command, an external agent CLI) and hands back an `Execution`: something the
worker can wait for with a deadline and kill whole. Output is streamed, masked, into a
file the caller names, so the run log fills live whatever the backend. The worker itself
(heartbeats, fencing, the model loop, git) never leaves the dispatcher's host.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hermes.errors import HermesError


class BackendUnavailable(HermesError):
    """The profile's backend cannot run here; retrying will not help."""

    retryable = False


@dataclass(frozen=True, slots=True)
class Tag:
    """Which run card work belongs to, stamped on what a backend leaves outside this
    process (container labels, remote pid files), so that a dispatcher restarted after a
    crash can tell its own orphans from the work of other boards and live runs."""

    board: str  # `board_tag` of the board's URL
    card: int
    run: int


def board_tag(db_url: str | None) -> str:
    """A short digest naming a board without saying where it is (its URL may hold a
    password)."""
    return hashlib.sha256((db_url or "").encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class EndedRuns:
    """Which runs of a board have ended for good, as an orphan sweep may judge them: every
    run up to `upto` (the newest run when the sweep began) that is not in `live` (read
    after `upto`). A run that is not live now never will be again; a run newer than
    `upto` may have been claimed while the sweep looked, so its container or remote
    process group is live work, never an orphan."""

    upto: int
    live: frozenset[int]

    def ended(self, run: int) -> bool:
        """Whether `run`'s container or process group may be removed."""
        return run <= self.upto and run not in self.live


class Sink(Protocol):
    """Where a backend writes the output of card work, chunk by chunk."""

    def write(self, data: bytes) -> object:
        """Take the next chunk (writes after `close` are dropped)."""
        ...

    def close(self) -> None:
        """The output is over: write what is held back (idempotent)."""
        ...


class Execution(Protocol):
    """One running process tree of card work."""

    @property
    def group(self) -> int | None:
        """The host process group to record on the run, so a reclaim can kill it."""
        ...

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code (negative: killed by that signal), or None if still running
        after `timeout` seconds. Returns only once all output has been written."""
        ...

    def kill(self) -> None:
        """End the whole tree now (idempotent)."""
        ...


class Backend(Protocol):
    """A place card work can run."""

    kind: str

    def describe(self) -> str:
        """One line for the run log: which backend, and what it lets through."""
        ...

    def start(
        self, argv: list[str], *, workspace: Path, env: dict[str, str], output: Sink
    ) -> Execution:
        """Start `argv` in `workspace` with exactly `env`; stdout and stderr go to
        `output` until the process tree ends, and `output` is closed then."""
        ...
