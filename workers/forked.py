"""A worker's life after the template forked it: wait on its own pipe for job lines,
work each run, and (a light worker) tell the template on the shared `results` pipe when
it is free for another; see `workers.template` for the protocol and `Workers` for who
gets which job. The pieces here run in the forked child only, except `Lines` and
`report`, which the template uses too.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import traceback

from board import Store, open_store
from board.db import engine_of
from workers.job import Prepared, WorkerJob
from workers.worker import EXIT_DONE, work

#: How many runs a light worker works before it exits (a fresh fork takes its place),
#: so that nothing a run leaves in the process can pile up.
RUNS_PER_WORKER = 200


def report(message: dict[str, object], fd: int = 1) -> None:
    """Write `message` as one JSON line to `fd` (one write: lines never interleave)."""
    os.write(fd, (json.dumps(message) + "\n").encode())


def become_worker(
    jobs: int, results: int | None, prepared: Prepared | None, close: list[int]
) -> None:
    """In the forked child: close the template's ends of its pipes and other workers'
    (a worker holding another's pipe open would keep it from ever seeing its end),
    detach, point stdio away from the pipes, serve jobs, exit."""
    code = 1
    try:
        for fd in close:
            os.close(fd)
        os.setsid()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        code = _serve(Lines(jobs), results, prepared)
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


def _serve(jobs: Lines, results: int | None, prepared: Prepared | None) -> int:
    """Work the jobs that come, one at a time; returns the exit code. After a run the
    worker goes on only when it can say so (`results`), the run ended the way the board
    expects (`EXIT_DONE`: whoever reclaims or cancels a run kills its worker, so a worker
    whose run was taken must not start another), nothing of the run is left running in
    it (a thread of a halted runner, an ssh connection's loop) and it has worked fewer
    than RUNS_PER_WORKER runs."""
    board = KeptBoard()
    runs = 0
    while (line := jobs.next()) is not None:  # None: dismissed
        job = WorkerJob.from_line(line)
        code = work(job, prepared, board.of(job.db_url) if results is not None else None)
        runs += 1
        if results is None or code != EXIT_DONE or runs == RUNS_PER_WORKER or not _alone():
            return code
        try:
            report({"finished": job.run_id, "pid": os.getpid(), "code": code}, results)
        except OSError:
            return code  # the template is gone: nothing more will come
    return 0


class KeptBoard:
    """A light worker's SQLite board, kept open from one run to the next: opening it
    (a connection, the schema read) is a good part of a short card's work. A
    PostgreSQL board gets a connection per run, so a server restart costs no run."""

    def __init__(self) -> None:
        self._url = ""
        self._store: Store | None = None

    def of(self, url: str) -> Store | None:
        """The kept store of `url` (None: let the run open its own)."""
        if self._store is None and engine_of(url) == "sqlite":
            self._store, self._url = open_store(url), url
        return self._store if url == self._url else None


def _alone() -> bool:
    """Whether the main thread is the only one left, waiting a moment for threads that
    are ending (the runner's thread signals its end just before it returns)."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            thread.join(0.05)
    return threading.active_count() == 1


class Lines:
    """Whole lines from a pipe, read with `os.read` (a buffered reader would hide lines
    in its buffer from the template's `select`)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.closed = False
        self._partial = b""
        self._lines: list[bytes] = []

    def read(self) -> list[bytes]:
        """The lines completed by one read (call when the pipe is readable); sets
        `closed` at the end of the pipe."""
        chunk = os.read(self.fd, 65536)
        if not chunk:
            self.closed = True
            return []
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        return lines

    def next(self) -> bytes | None:
        """The next line, waiting for it; None at the end of the pipe."""
        while not self._lines and not self.closed:
            self._lines = self.read()
        return self._lines.pop(0) if self._lines else None
