"""The limits of one attempt, held by the worker outside whatever runner works it.

An attempt ends when its runner returns, when its deadline passes (the card's `timeout`)
or when its lease is lost. The last two are decided here, not by the runner: the worker
watches the clock and the lease, and `halt` sets the stop signal every runner polls and
kills every process tree the attempt started, on whatever backend. A runner stuck in a
model call or waiting for a human cannot hold the attempt past its deadline.

Time waiting for a human counts against the deadline, unless the profile gives waits
their own limit (`human_timeout`): then a wait shifts the deadline by its length and
ends the attempt if it outlasts that limit.
"""

from __future__ import annotations

import threading
import time

from workers.backends.base import Execution


class Attempt:
    """The stop signal, deadline and live process trees of one attempt."""

    def __init__(self, timeout: float | None, human_timeout: float | None = None) -> None:
        self.timeout, self.human_timeout = timeout, human_timeout
        self.stop = threading.Event()  # set when the attempt must end: runners poll it
        self.reason: str | None = None  # "timeout" or "lost" once halted
        self.why = ""  # the error the card shows for a timeout
        self._started = time.monotonic()
        self._waiting_since: float | None = None
        self._waited = 0.0
        self._lock = threading.Lock()
        self._live: set[Execution] = set()

    # -- process trees -----------------------------------------------------------------

    def track(self, execution: Execution) -> None:
        """Remember a started tree, so a halt kills it; killed at once if already halted."""
        with self._lock:
            self._live.add(execution)
            halted = self.stop.is_set()
        if halted:
            execution.kill()

    def forget(self, execution: Execution) -> None:
        """A tree that ended on its own."""
        with self._lock:
            self._live.discard(execution)

    def kill_all(self) -> None:
        """Kill every tree still running (at a halt, and when the attempt ends)."""
        with self._lock:
            live, self._live = list(self._live), set()
        for execution in live:
            execution.kill()

    # -- ending ----------------------------------------------------------------------------

    def halt(self, reason: str, why: str = "") -> None:
        """End the attempt now: the first reason wins."""
        with self._lock:
            if self.reason is None:
                self.reason, self.why = reason, why
        self.stop.set()
        self.kill_all()

    def overdue(self, now: float | None = None) -> str | None:
        """Why the attempt is past its limits, or None."""
        now = time.monotonic() if now is None else now
        with self._lock:
            waiting = self._waiting_since
            waited = self._waited
        if waiting is not None and self.human_timeout is not None:
            if now - waiting >= self.human_timeout:
                return f"timed out: nobody answered within {self.human_timeout:g}s"
            waited += now - waiting  # the wait so far does not count against `timeout`
        if self.timeout is not None and now - self._started - waited >= self.timeout:
            return f"timed out after {self.timeout:g}s"
        return None

    # -- waits for a human ---------------------------------------------------------------

    def waiting(self) -> None:
        """A wait for a human began."""
        with self._lock:
            self._waiting_since = time.monotonic()

    def answered(self) -> None:
        """The wait ended; with `human_timeout` set, it did not count against `timeout`."""
        with self._lock:
            if self._waiting_since is not None and self.human_timeout is not None:
                self._waited += time.monotonic() - self._waiting_since
            self._waiting_since = None
