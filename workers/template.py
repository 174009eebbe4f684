"""The worker template: a warm process that forks the workers and hands them runs.

Starting Python and importing the board, profiles and gitpython costs a few hundred
milliseconds; forking a process that has already done so costs a few. The dispatcher
starts a template (`python -m workers.template [light|agent]`) and talks to it over pipes:

    dispatcher -> template   one WorkerJob JSON line per run to start
    template -> dispatcher   {"ready": true} once warm
                             {"spawned": <run id>, "pid": <pid>} per job
                             {"finished": <run id>, "pid": <pid>, "code": 0} when a worker
                                 finished its run and stays, free for another
                             {"exited": <pid>, "code": <exit code, -signal>} per worker

For the dispatcher, `finished` and `exited` both end the worker's run: a worker's run is
the last one spawned on its pid. Reports come in order: a run's spawn before its end.

There are two kinds: `light` (command and cli runners; no litellm) and `agent`, which
has also imported litellm (about four seconds) so agent workers start in milliseconds.
A light worker works one run after another (see `Workers`): for a short card the fork
and the pages a forked process copies as it runs cost three times the card's own work.
An agent worker works one run: its card's time is the model's, and litellm keeps state
of its own in the process. The template reaps its children and reports each exit at
once, so a worker that dies is noticed immediately. Each worker starts its own session
(process group), away from the terminal and the template. When the dispatcher goes away
(its end of the pipe closes), the template exits: free workers exit, and those at work
finish their cards on their own, then exit.
"""

from __future__ import annotations

import gc
import json
import os
import selectors
import signal
import sys
import time
from pathlib import Path

from hermes.errors import HermesError
from workers.forked import Lines, become_worker, report
from workers.job import Prepared, WorkerJob
from workers.secrets import Masker

#: How long a light worker with nothing to do is kept (seconds).
FREE_FOR = 30.0
#: How long the template, leaving, waits for its free workers to exit (seconds).
CLOSE_WAIT = 2.0


def _reap(workers: Workers) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        workers.gone(pid)
        report({"exited": pid, "code": os.waitstatus_to_exitcode(status)})


class Preparer:
    """What every worker would read from the profile and settings files, read once
    before forking: the secrets of card work and their masker, and the profiles.

    Which variables are secrets depends on every profile file (`api_key_env`,
    `secret_env`) and the settings file (tokens): reading them all took a forked worker
    tens of milliseconds (YAML, pydantic, the settings' models built afresh), most of a
    trivial card's time; validating its own profile took a few more. Profiles rarely
    change, so the template reads them once, and again only when a profile file or the
    settings file changed (checked before every fork: a few `stat` calls). The worker's
    environment is the template's, so the answer is the worker's own. What cannot be
    read here (a broken settings file, a broken profile) is left to the worker, which
    fails the way it always did.
    """

    def __init__(self) -> None:
        self._stamp: tuple[object, ...] | None = None
        self._found: Prepared | None = None

    def current(self) -> Prepared | None:
        """What the files say now (None: let the worker read them itself)."""
        try:
            stamp = _stamp()
            if stamp != self._stamp:
                self._found, self._stamp = _prepare(), stamp
        except (HermesError, OSError):
            self._found, self._stamp = None, None
        return self._found


def _stamp() -> tuple[object, ...]:
    """What the prepared answers depend on: every profile file and the settings file."""
    from hermes.paths import hermes_home, profiles_dir
    from profiles import profile_files

    files = [*profile_files(profiles_dir()).values(), hermes_home() / "config.yaml"]
    return tuple(_file_stamp(path) for path in files)


def _file_stamp(path: Path) -> tuple[str, int, int, int] | str:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return str(path)
    return str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size


def _prepare() -> Prepared:
    """`workers.context.card_secrets` and every profile the way `Config.load_profile`
    reads it, with the settings read afresh (the process-wide Config is left alone, so a
    worker that reads them itself still sees them as they are)."""
    from hermes.config import read_config
    from hermes.errors import ProfileError
    from hermes.paths import board_url, hermes_home, profiles_dir
    from profiles import Profile, profile_files, read_profile
    from workers.secrets import named_secrets, secret_names

    config = read_config(hermes_home(), board_url())
    named = named_secrets(profiles_dir(), config.profile_defaults) | config.secret_names()
    secrets = secret_names(os.environ, named)
    profiles: dict[str, Profile] = {}
    for name, path in profile_files(profiles_dir()).items():
        try:
            profiles[name] = read_profile(path, config.profile_defaults)
        except ProfileError:
            continue  # the worker of a card of this profile says what is wrong
    return Prepared(secrets, Masker.of(os.environ, secrets), profiles)


class Worker:
    """A worker the template forked before it had a job: it waits on a pipe of its own
    for job lines, so when a job comes the fork is already done. A light worker says on
    the shared `results` pipe when it is free again and waits for the next job; any
    other worker (and one that should not go on, see `_serve`) exits after its job.
    Dismissed (its pipe closed) while it waits, it exits without touching the board."""

    def __init__(self, prepared: Prepared | None, results: int | None, close: list[int]) -> None:
        self.prepared = prepared
        self.free_since = time.monotonic()
        read, self.pipe = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            become_worker(read, results, prepared, [self.pipe, *close])
        os.close(read)

    def hand(self, job: WorkerJob) -> bool:
        """Give the worker its job (it starts at once); False when it is gone."""
        try:
            os.write(self.pipe, job.to_line())  # one short line: written whole or not at all
        except BrokenPipeError:
            return False
        return True

    def dismiss(self) -> None:
        """Close the worker's pipe: waiting, it exits; at work, it exits after its job."""
        if self.pipe >= 0:
            os.close(self.pipe)
            self.pipe = -1


class Workers:
    """The template's workers: the spare (forked ahead for the next job), the free ones
    (light workers that finished a run and wait for another) and those at work.

    A job goes to the worker that was free last, then to the spare; a spare that took a
    job is replaced at once, so the number of workers grows to the dispatcher's
    concurrency and then stays there: a light card then costs no fork, none of the page
    copies a forked process makes as it runs, and no imports. Workers forked with other
    profiles or settings than the current ones (a file changed) are let go.
    """

    def __init__(self, preparer: Preparer, results: int | None, close: list[int]) -> None:
        self._preparer, self._results, self._close = preparer, results, close
        self._prepared = preparer.current()
        self._spare: Worker | None = None
        self._free: list[Worker] = []
        self._busy: dict[int, Worker] = {}

    def fork_spare(self) -> None:
        """Fork the worker for the next job, if there is none yet."""
        if self._spare is None:
            pipes = [w.pipe for w in (*self._free, *self._busy.values()) if w.pipe >= 0]
            self._spare = Worker(self._prepared, self._results, [*self._close, *pipes])

    def hand(self, job: WorkerJob) -> int:
        """Give `job` to a worker; returns its pid."""
        prepared = self._preparer.current()
        if prepared is not self._prepared:  # a profile or the settings changed
            self._prepared = prepared
            for worker in self._waiting():
                worker.dismiss()
            self._free, self._spare = [], None
        while self._free:
            worker = self._free.pop()
            if worker.hand(job):
                return self._at_work(worker)
            worker.dismiss()  # it died while free: its exit is reported when reaped
        while not (worker := self._take_spare()).hand(job):
            worker.dismiss()  # it died before its job: fork another
        return self._at_work(worker)

    def _take_spare(self) -> Worker:
        self.fork_spare()
        worker, self._spare = self._spare, None
        assert worker is not None
        return worker

    def _at_work(self, worker: Worker) -> int:
        self._busy[worker.pid] = worker
        return worker.pid

    def finished(self, pid: int) -> bool:
        """A light worker finished its run and waits for another job; False when it was
        reaped first (it died just after saying so: its exit was reported instead)."""
        worker = self._busy.pop(pid, None)
        if worker is None:
            return False
        # A worker forked without prepared profiles read them itself, and may keep them.
        if worker.prepared is not None and worker.prepared is self._prepared:
            worker.free_since = time.monotonic()
            self._free.append(worker)
        else:
            worker.dismiss()
        return True

    def gone(self, pid: int) -> None:
        """A worker exited (reaped): forget it and close its pipe."""
        for worker in [*self._waiting(), *self._busy.values()]:
            if worker.pid == pid:
                worker.dismiss()
        self._busy.pop(pid, None)
        self._free = [worker for worker in self._free if worker.pid != pid]
        if self._spare is not None and self._spare.pid == pid:
            self._spare = None

    def wait(self) -> float | None:
        """Seconds until the worker free the longest is to be let go (None: none is)."""
        if not self._free:
            return None
        return max(0.0, self._free[0].free_since + FREE_FOR - time.monotonic())

    def let_go_idle(self) -> None:
        """Let go the workers free for longer than FREE_FOR: an idle dispatcher keeps
        only its template and one spare."""
        now = time.monotonic()
        while self._free and self._free[0].free_since + FREE_FOR <= now:
            self._free.pop(0).dismiss()

    def close(self) -> None:
        """Let every worker go: free ones exit now (and are reaped, so their time counts
        as the dispatcher's), busy ones after their run, on their own."""
        waiting = {worker.pid for worker in self._waiting()}
        for worker in [*self._waiting(), *self._busy.values()]:
            worker.dismiss()
        deadline = time.monotonic() + CLOSE_WAIT
        while waiting and time.monotonic() < deadline:  # a frozen one: for CLOSE_WAIT
            for pid in list(waiting):
                try:
                    if os.waitpid(pid, os.WNOHANG)[0]:
                        waiting.discard(pid)
                except ChildProcessError:
                    waiting.discard(pid)  # reaped already
            time.sleep(0.005)

    def _waiting(self) -> list[Worker]:
        """The workers waiting for a job: the free ones and the spare."""
        return [*self._free, *([self._spare] if self._spare is not None else [])]


def warm(kind: str) -> None:
    """Import what workers of `kind` need before forking them (`agent`: litellm too), and
    find out once whether this machine can sandbox (every fork inherits the answer)."""
    from workers.backends import probe

    probe()
    _warm_backends()
    if kind == "agent":
        from workers.agent.model import warm_up
        from workers.runners import agent  # noqa: F401

        warm_up()


def _warm_backends() -> None:
    """Import the docker or ssh library (half a second or more each) once here when a
    profile uses it, rather than in every worker; never when none does."""
    from hermes.paths import profiles_dir
    from profiles import profile_files, read_profile

    kinds = set()
    for path in profile_files(profiles_dir()).values():
        try:
            kinds.add(read_profile(path).backend.kind)
        except HermesError:
            continue
    try:
        if "docker" in kinds:
            import docker  # noqa: F401
        if "ssh" in kinds:
            import asyncssh  # noqa: F401
    except ImportError:
        pass  # the card says so, with the pip line


def main() -> None:
    """Serve spawn requests until the dispatcher closes the pipe."""
    kind = sys.argv[1] if len(sys.argv) > 1 else "light"
    warm(kind)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the dispatcher's to handle
    # Exits are reaped in the loop below, woken through this pipe: one thread, no handler
    # writing a report in the middle of another.
    woken, wake = os.pipe()
    for fd in (woken, wake):
        os.set_blocking(fd, False)
    signal.set_wakeup_fd(wake)
    signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)
    finished, results = os.pipe() if kind == "light" else (-1, -1)  # agent workers: one run
    selector = selectors.DefaultSelector()
    own = [woken, wake, selector.fileno(), *([finished] if finished >= 0 else [])]
    preparer = Preparer()
    gc.freeze()  # what is warm now stays out of the workers' collections (and shared)
    workers = Workers(preparer, results if results >= 0 else None, own)
    workers.fork_spare()
    try:
        report({"ready": True})
        _serve_dispatcher(workers, selector, woken, finished)
    except BrokenPipeError:
        pass  # the dispatcher is gone: as when it closes its pipe
    finally:
        workers.close()  # free workers exit; those at work finish their runs on their own


def _serve_dispatcher(
    workers: Workers, selector: selectors.BaseSelector, woken: int, finished: int
) -> None:
    """Hand out jobs, report spawns, free workers and exits, in the order they happened,
    until the dispatcher closes its pipe."""
    jobs, results = Lines(0), Lines(finished)
    selector.register(0, selectors.EVENT_READ, jobs)
    selector.register(woken, selectors.EVENT_READ)
    if finished >= 0:
        selector.register(finished, selectors.EVENT_READ, results)
    while not jobs.closed:
        for key, _events in selector.select(workers.wait()):
            if key.data is jobs:
                for line in jobs.read():
                    job = WorkerJob.from_line(line)
                    report({"spawned": job.run_id, "pid": workers.hand(job)})
                    workers.fork_spare()  # the next job's worker, forked while this one works
            elif key.data is results:
                for line in results.read():
                    if workers.finished(int(json.loads(line)["pid"])):  # else: reaped first
                        os.write(1, line + b"\n")
            else:
                _drain(woken)
                _reap(workers)
        workers.let_go_idle()


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


if __name__ == "__main__":
    main()
