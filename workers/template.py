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

import gc
import json
import os
import signal
import sys
import traceback
from pathlib import Path
from types import FrameType

from hermes.errors import HermesError
from workers.job import Prepared, WorkerJob
from workers.secrets import Masker
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


class Spare:
    """A worker forked before its job: it detaches and then waits on a pipe of its own
    for the job line, so when a job comes the fork is already done. Handed a job, it
    works it; dismissed (its pipe closed empty), it exits without touching the board."""

    def __init__(self, prepared: Prepared | None) -> None:
        self.prepared = prepared
        read, self._write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self._write)
            _become_worker(read, prepared)
        os.close(read)

    def hand(self, job: WorkerJob) -> None:
        """Give the spare its job (it starts at once)."""
        os.write(self._write, job.to_line())
        os.close(self._write)

    def dismiss(self) -> None:
        """Let the spare go unused: it exits."""
        os.close(self._write)


def _become_worker(jobs: int, prepared: Prepared | None) -> None:
    """In the forked child: detach, point stdio away from the pipes, wait for the job,
    work, exit."""
    code = 1
    try:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        line = b""
        while chunk := os.read(jobs, 65536):
            line += chunk
        os.close(jobs)
        code = work(WorkerJob.from_line(line), prepared) if line else 0
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


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
    warm(sys.argv[1] if len(sys.argv) > 1 else "light")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the dispatcher's to handle
    signal.signal(signal.SIGCHLD, _reap)
    preparer = Preparer()
    gc.freeze()  # what is warm now stays out of the workers' collections (and shared)
    spare = Spare(preparer.current())
    _report({"ready": True})
    stdin = sys.stdin.buffer
    while line := stdin.readline():
        job = WorkerJob.from_line(line)
        prepared = preparer.current()
        if prepared is not spare.prepared:  # a profile or the settings changed
            spare.dismiss()
            spare = Spare(prepared)
        # Hold SIGCHLD until the spawn is reported, so an exit never precedes its spawn.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        try:
            spare.hand(job)
            _report({"spawned": job.run_id, "pid": spare.pid})
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        spare = Spare(prepared)  # the next job's worker, forked while this one works
    spare.dismiss()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # leave the workers to finish alone


if __name__ == "__main__":
    main()
