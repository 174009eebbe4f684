"""The worker's own heartbeat: a thread that keeps the run's lease alive.

It runs beside the runner, on its own database connection, so a worker that hangs in its
main thread still heartbeats only if the whole process is alive; a frozen or dead process
stops heartbeating and the dispatcher reclaims its card. When a heartbeat is refused (the
run was reclaimed or cancelled) or none has succeeded for a whole lease, the lease is
lost and `on_lost` stops the runner.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from board import Store, open_store
from board.clock import utcnow
from hermes.errors import HermesError


class Heartbeat(threading.Thread):
    """Extends the lease every `interval` seconds until stopped or the lease is lost."""

    def __init__(
        self, db_url: str, run_id: int, interval: float, lease: float, on_lost: Callable[[], None]
    ) -> None:
        super().__init__(name=f"heartbeat-run-{run_id}", daemon=True)
        self._db_url, self._run_id = db_url, run_id
        self._interval, self._lease = interval, lease
        self._on_lost = on_lost
        self._stopped = threading.Event()
        self.lost = threading.Event()

    def run(self) -> None:
        # The connection is opened at the first beat, not before: most runs of short
        # cards end before it is due, and opening one (the schema read afresh in a new
        # process) costs a few milliseconds of CPU.
        store: Store | None = None
        last_ok = time.monotonic()
        wait = self._interval
        try:
            while not self._stopped.wait(wait):
                began = time.monotonic()
                try:
                    store = store or open_store(self._db_url)
                    ok: bool | None = store.heartbeat(self._run_id, utcnow(), self._lease)
                except HermesError:
                    ok = None  # the board is busy or unreachable: try again next beat
                if ok:
                    last_ok = time.monotonic()
                if ok is False or time.monotonic() - last_ok > self._lease:
                    self.lost.set()
                    self._on_lost()
                    return
                # A beat that waited for the write lock (the board stalled) wrote a lease
                # counted from before the wait, maybe already over: renew it at once.
                wait = 0.0 if ok and time.monotonic() - began > self._interval else self._interval
        finally:
            if store is not None:
                store.close()

    def stop(self) -> None:
        """Stop beating (the run is over) and wait for the thread."""
        self._stopped.set()
        if self.is_alive():
            self.join(timeout=5)
