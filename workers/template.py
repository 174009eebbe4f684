"""The worker template: a warm process that forks one worker per run.

Starting Python and importing the board, profiles and gitpython costs a few hundred
milliseconds; forking a process that has already done so costs a few. The dispatcher
starts a template (`python -m workers.template [light|agent]`) and talks to it over pipes:

    dispatcher -> template   one WorkerJob JSON line per run to start
    template -> dispatcher   {"ready": true} once warm
                             {"spawned": <run id>, "pid": <pid>} per job
                             {"exited": <pid>, "code": <exit code, -signal>} per worker

There are two kinds: `light` (command and cli runners; no litellm) and `agent`, which
has also imported litellm (about four seconds) so agent workers start in milliseconds.
The template reaps its children and reports each exit at once, so a worker that dies is
noticed immediately. Each worker starts its own session (process group), away from the
terminal and the template. When the dispatcher goes away (its end of the pipe closes),
the template exits and leaves the workers running: they finish their cards on their own.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from types import FrameType

from workers.job import WorkerJob
from workers.worker import work


def _report(message: dict[str, object]) -> None:
    os.write(1, (json.dumps(message) + "\n").encode())  # one write: lines never interleave


def _reap(_signum: int = 0, _frame: FrameType | None = None) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _report({"exited": pid, "code": os.waitstatus_to_exitcode(status)})


def _become_worker(job: WorkerJob) -> None:
    """In the forked child: detach, point stdio away from the pipes, work, exit."""
    code = 1
    try:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        code = work(job)
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


def warm(kind: str) -> None:
    """Import what workers of `kind` need before forking them (`agent`: litellm too), and
    find out once whether this machine can sandbox (every fork inherits the answer)."""
    from workers.backends import probe

    probe()
    if kind == "agent":
        from workers.agent.model import warm_up
        from workers.runners import agent  # noqa: F401

        warm_up()


def main() -> None:
    """Serve spawn requests until the dispatcher closes the pipe."""
    warm(sys.argv[1] if len(sys.argv) > 1 else "light")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the dispatcher's to handle
    signal.signal(signal.SIGCHLD, _reap)
    _report({"ready": True})
    stdin = sys.stdin.buffer
    while line := stdin.readline():
        job = WorkerJob.from_line(line)
        # Hold SIGCHLD until the spawn is reported, so an exit never precedes its spawn.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        try:
            pid = os.fork()
            if pid == 0:
                _become_worker(job)
            _report({"spawned": job.run_id, "pid": pid})
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # leave the workers to finish alone


if __name__ == "__main__":
    main()
