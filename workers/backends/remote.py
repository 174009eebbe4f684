"""The `ssh` backend: card work on another machine, through asyncssh.

The worker, the model loop, the file tools and git stay on the dispatcher's host; only
the execution moves. The card's worktree is the one truth: before each execution its
files (everything but `.git`) are mirrored into a folder of the card's own under the
profile's `workdir` on the remote host, and when the execution ends the remote folder
is mirrored back (new, changed and deleted files alike). So the agent's file tools,
which act on the local worktree, and its shell commands, which run remotely, always see
the same files, and the worker commits the results on the card branch exactly as for a
local card. Nothing under `.git` ever crosses in either direction: the remote side can
plant no hook or config that hermes' git would run.

The remote command runs under `setsid`, in a process group of its own whose id it
reports first and also leaves in a pid file per run (`<workdir>/<board>/runs/<run>.pgid`).
Closing an ssh channel without a PTY does not end the command, so a kill (timeout, lost
lease) is `kill -TERM` then `kill -KILL` of that group over a second channel; a
dispatcher restarted after a crash reads the pid files of its board and kills the groups
of runs that are no longer live.

Host keys are always checked: against the profile's `known_hosts` file (default
`~/.ssh/known_hosts`) or one pinned `host_key`. An unknown host and a changed key are
both refused with what to do. Login is by the profile's `key_file` only: no agent, no
password, no `~/.ssh/config` (the profile is the whole description of the connection).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import os
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Coroutine, Iterable
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from hermes.errors import HermesError
from profiles.model import BackendSpec
from workers.backends.base import BackendUnavailable, EndedRuns, Sink, Tag
from workers.backends.container import portable_env

INSTALL = "pip install 'hermes-board[ssh]'"
CONNECT_TIMEOUT = 15
#: How long a kill may take before the execution is given up as killed.
KILL_WAIT = 1.0
GIT = ".git"
T = TypeVar("T")

#: Run on the remote host: report the group id (stderr's first line) and leave it in the
#: pid file ($0), take the card's variables from its private file ($1, then removed: on
#: the command line they would show in `ps` to every user of the host), then become the
#: command with stderr merged into stdout.
INNER = 'echo $$ >&2; echo $$ >"$0"; . "$1"; rm -f "$1"; shift; exec "$@" 2>&1'
#: Kill the groups of ended runs: those up to $UPTO not in $KEEP (see EndedRuns); a pid
#: file that does not hold a plain number above 1 is removed, never acted on.
SWEEP = (
    'for f in *.pgid; do [ -e "$f" ] || continue; r=${f%.pgid}; '
    'case $r in ""|*[!0-9]*) continue;; esac; [ "$r" -gt "$UPTO" ] && continue; '
    'case " $KEEP " in *" $r "*) continue;; esac; p=$(cat "$f"); '
    'case $p in ""|*[!0-9]*) ;; *) [ "$p" -gt 1 ] && kill -KILL -- "-$p" 2>/dev/null;; esac; '
    'rm -f "$f"; echo "$r"; done'
)


class Unreachable(HermesError):
    """The remote host did not answer; it may next time (the card is retried)."""


# -- the event loop all ssh work of this process runs on ------------------------------

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _submit(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
    """Run `coro` on this process's ssh loop (a daemon thread, started on first use):
    the worker is threaded and asyncssh is asyncio."""
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="ssh-loop", daemon=True).start()
        loop = _loop
    return asyncio.run_coroutine_threadsafe(coro, loop)


def _call(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    return _submit(coro).result(timeout)


_open: list[Any] = []  # the connections backends of this process hold


def close_all() -> None:
    """Close every ssh connection this process opened (a worker's attempt is over)."""
    while _open:
        conn = _open.pop()

        async def close(conn: Any = conn) -> None:
            conn.close()
            await conn.wait_closed()

        try:
            _call(close(), 5)
        except Exception:  # already gone
            pass


# -- connecting ------------------------------------------------------------------------


def _asyncssh() -> Any:
    try:
        import asyncssh
    except ImportError:
        raise BackendUnavailable(
            f"the profile asks for backend ssh, but the asyncssh library is not installed: "
            f"{INSTALL}"
        ) from None
    return asyncssh


def where(spec: BackendSpec) -> str:
    """`user@host:port` as messages name the remote host."""
    user = f"{spec.user}@" if spec.user else ""
    return f"{user}{spec.host}:{spec.port}"


def known_hosts_file(spec: BackendSpec) -> Path:
    """The file host keys are checked against."""
    return Path(spec.known_hosts or "~/.ssh/known_hosts").expanduser()


def host_known(spec: BackendSpec) -> str | None:
    """None when the host's key is pinned or listed, else why not (for the error and
    `hermes doctor`)."""
    asyncssh = _asyncssh()
    if spec.host_key:
        try:
            asyncssh.import_public_key(spec.host_key)
        except (asyncssh.KeyImportError, ValueError):
            return "backend.host_key is not a public key (give a line like ssh-ed25519 AAAA...)"
        return None
    path = known_hosts_file(spec)
    try:
        hosts = asyncssh.read_known_hosts(str(path))
    except OSError:
        return f"there is no known_hosts file at {path}"
    host = str(spec.host)
    keys, ca_keys, *_ = hosts.match(host, host, spec.port)
    if not keys and not ca_keys:
        return f"{spec.host} (port {spec.port}) is not in {path}"
    return None


def _trust(spec: BackendSpec) -> Any:
    """asyncssh's `known_hosts` argument: the pinned key, or the file."""
    asyncssh = _asyncssh()
    if spec.host_key:
        return ([asyncssh.import_public_key(spec.host_key)], [], [])
    return str(known_hosts_file(spec))


async def _connect(spec: BackendSpec) -> Any:
    asyncssh = _asyncssh()
    problem = host_known(spec)
    if problem is not None:
        raise BackendUnavailable(
            f"ssh to {where(spec)} refused: the host is unknown ({problem}); check its key "
            f"fingerprint out of band, then add it (ssh-keyscan -p {spec.port} {spec.host} "
            f">> {known_hosts_file(spec)}) or pin it with backend.host_key"
        )
    key_file = Path(str(spec.key_file)).expanduser()
    try:
        return await asyncssh.connect(
            str(spec.host),
            spec.port,
            username=spec.user or (),
            client_keys=[str(key_file)],
            known_hosts=_trust(spec),
            config=[],
            agent_path=None,
            password_auth=False,
            kbdint_auth=False,
            connect_timeout=CONNECT_TIMEOUT,
        )
    except asyncssh.HostKeyNotVerifiable:
        raise BackendUnavailable(
            f"ssh to {where(spec)} refused: the host key does not match the one "
            f"{'pinned in backend.host_key' if spec.host_key else f'in {known_hosts_file(spec)}'}"
            "; someone may be intercepting the connection, or the host was reinstalled: "
            "verify its new key out of band before you replace the old one"
        ) from None
    except asyncssh.PermissionDenied:
        raise BackendUnavailable(
            f"ssh to {where(spec)} refused the login with key_file {key_file}; add its public "
            "key to the remote user's authorized_keys, or fix backend.user / key_file"
        ) from None
    except (OSError, asyncssh.Error) as exc:
        if isinstance(exc, FileNotFoundError | IsADirectoryError | PermissionError):
            raise BackendUnavailable(
                f"backend.key_file {key_file} cannot be read ({exc.strerror})"
            ) from None
        raise Unreachable(f"ssh to {where(spec)} failed: {exc}") from None


# -- paths on the remote host ----------------------------------------------------------


def _rpath(path: PurePosixPath) -> str:
    """A remote path for a shell command line, `~/` left for the shell to expand."""
    text = str(path)
    if text == "~" or text.startswith("~/"):
        rest = text[2:]
        return '"$HOME"' + (f"/{shlex.quote(rest)}" if rest else "")
    return shlex.quote(text)


class Places:
    """Where one board's cards and pid files live under the profile's `workdir`."""

    def __init__(self, workdir: str, board: str) -> None:
        self.base = PurePosixPath(workdir) / f"hermes-{board}"

    def card(self, card: int) -> str:
        return _rpath(self.base / f"card-{card}")

    def runs(self) -> str:
        return _rpath(self.base / "runs")

    def pidfile(self, run: int) -> str:
        return _rpath(self.base / "runs" / f"{run}.pgid")


# -- mirroring the worktree --------------------------------------------------------------


def pack(workspace: Path) -> bytes:
    """The workspace's files (not `.git`) as a tar archive."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for entry in sorted(workspace.iterdir()):
            if entry.name != GIT:
                archive.add(entry, arcname=entry.name)
    return buffer.getvalue()


def unpack(data: bytes, workspace: Path) -> list[str]:
    """Make the workspace's files (not `.git`) what the archive holds: extracted with
    tarfile's `data` filter (no links or paths leading out, no devices, no owners),
    anything it does not hold removed. Returns the entries the filter refused."""
    refused = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as archive:
        members = [m for m in archive.getmembers() if not _under_git(m.name)]
        names = {_plain(m.name) for m in members}
        _remove_missing(workspace, names)
        for member in members:
            if _plain(member.name) == "":
                continue
            target = workspace / _plain(member.name)
            if target.is_symlink() or (target.exists() and not target.is_dir()):
                target.unlink()  # replaced, perhaps by another kind of entry
            try:
                archive.extract(member, workspace, filter="data")
            except tarfile.FilterError:  # a link or path leading out of the workspace
                refused.append(_plain(member.name))
    return refused


def _plain(name: str) -> str:
    """An archive name as a path relative to the workspace (`./a/b` -> `a/b`)."""
    text = PurePosixPath(name).as_posix()
    return "" if text in (".", "./") else text.removeprefix("./")


def _under_git(name: str) -> bool:
    return any(part.lower() == GIT for part in PurePosixPath(name).parts)


def _remove_missing(workspace: Path, names: set[str]) -> None:
    """Remove what the archive does not hold, never following a symlink out: a link is
    removed itself, what it points at is left alone."""
    for top, dirs, files in os.walk(workspace, topdown=True, followlinks=False):
        here = Path(top)
        # `.git` at any depth (the worktree's own, a submodule's) never crosses: keep it
        dirs[:] = [d for d in dirs if d.lower() != GIT]
        files = [f for f in files if f.lower() != GIT]
        for name in list(dirs):
            path = here / name
            if path.relative_to(workspace).as_posix() in names and not path.is_symlink():
                continue
            dirs.remove(name)  # not walked into
            if path.relative_to(workspace).as_posix() in names:
                continue  # a link the archive holds too: replaced on extraction
            if path.is_symlink():
                path.unlink()
            else:
                shutil.rmtree(path, ignore_errors=True)
        for name in files:
            path = here / name
            if path.relative_to(workspace).as_posix() not in names:
                path.unlink(missing_ok=True)


# -- the backend ------------------------------------------------------------------------


class SshBackend:
    """Runs card work in a mirror of the worktree on a remote host."""

    kind = "ssh"

    def __init__(
        self, spec: BackendSpec, tag: Tag, passed: Iterable[str], repo_git: Path | None = None
    ) -> None:
        self.spec, self.tag, self.passed = spec, tag, tuple(passed)
        self.repo_git = repo_git  # the card's repository: its branch goes over once
        self._branch_sent = repo_git is None
        self.places = Places(str(spec.workdir), tag.board)
        self._conn = _call(_connect(spec))  # refused here: the card fails at once
        _open.append(self._conn)

    def describe(self) -> str:
        """What the run log says about where the work runs."""
        return (
            f"ssh ({where(self.spec)}, in {self.spec.workdir}; the worktree is mirrored "
            "there before each command and back after it)"
        )

    def start(
        self, argv: list[str], *, workspace: Path, env: dict[str, str], output: Sink
    ) -> SshRun:
        """Mirror the worktree over, start `argv` there in a group of its own."""
        exports = "".join(
            f"export {name}={shlex.quote(value)}\n"
            for name, value in portable_env(env, self.passed).items()
        )
        card, pidfile = self.places.card(self.tag.card), self.places.pidfile(self.tag.run)
        envfile = pidfile.removesuffix(".pgid") + ".env"
        command = (
            f"cd {card} && exec setsid -w sh -c "
            f"{shlex.quote(INNER)} {pidfile} {envfile} {shlex.join(argv)}"
        )
        run = SshRun(self._conn, output, pidfile)
        run.begin(self._execute(run, workspace, card, command, pidfile, (envfile, exports)))
        return run

    async def _execute(
        self,
        run: SshRun,
        workspace: Path,
        card: str,
        command: str,
        pidfile: str,
        variables: tuple[str, str],
    ) -> int:
        conn = self._conn
        envfile, exports = variables
        try:
            written = await conn.run(
                f"mkdir -p {self.places.runs()} && umask 077 && cat > {envfile}", input=exports
            )
            if written.exit_status != 0:
                raise Unreachable(
                    f"writing the card's variables on {where(self.spec)} failed: "
                    f"{str(written.stderr or '').strip()}"
                )
            if not self._branch_sent:
                await self._send_branch(card)
                self._branch_sent = True
            data = await asyncio.to_thread(pack, workspace)
            mirror = (
                f"mkdir -p {card} && cd {card} && find . -mindepth 1 -maxdepth 1 ! -name .git "
                "-exec rm -rf {} + && tar -xf -"
            )
            pushed = await conn.run(mirror, input=data, encoding=None)
            if pushed.exit_status != 0:
                raise Unreachable(
                    f"copying the worktree to {where(self.spec)} failed: "
                    f"{pushed.stderr.decode(errors='replace').strip()}"
                )
            code = await run.follow(command)
            if run.killed:
                return code
            back = await conn.run(
                f"cd {card} && tar -cf - --exclude=./.git . ; s=$?; rm -f {pidfile}; exit $s",
                encoding=None,
            )
            if back.exit_status != 0:  # a partial archive would delete what it lacks here
                raise Unreachable(
                    f"copying the results back from {where(self.spec)} failed (the local "
                    f"worktree was left as it was): "
                    f"{bytes(back.stderr or b'').decode(errors='replace').strip()}"
                )
            refused = await asyncio.to_thread(unpack, back.stdout, workspace)
            if refused:
                note = ", ".join(refused[:5]) + (" ..." if len(refused) > 5 else "")
                run.output.write(
                    f"\n[hermes] not copied back (links or paths leading "
                    f"out of the workspace): {note}\n".encode()
                )
            return code
        finally:
            run.output.close()

    async def _send_branch(self, card: str) -> None:
        """Make the remote folder a git checkout of the card branch (once per attempt):
        a bundle of the branch, fetched there, its files then overlaid by the mirror.
        So `git status`, `diff` and `log` work remotely; commits stay hermes' (here).
        A remote host without git gets the files only."""
        branch = f"hermes/card-{self.tag.card}"
        bundle = await asyncio.to_thread(_bundle, self.repo_git, branch)
        if bundle is None:
            return
        script = (
            f"command -v git >/dev/null || exit 0; mkdir -p {card} && cd {card} && "
            "{ [ -d .git ] || git init -q; } && cat > .git/hermes.bundle && "
            f"git fetch -q .git/hermes.bundle +refs/heads/{branch}:refs/heads/{branch} && "
            f"git symbolic-ref HEAD refs/heads/{branch} && git reset -q; "
            "s=$?; rm -f .git/hermes.bundle; exit $s"
        )
        await self._conn.run(script, input=bundle, encoding=None)


def _bundle(repo_git: Path | None, branch: str) -> bytes | None:
    """The card branch as a git bundle (None when there is none), read from the
    repository's own git directory, never through the worktree's `.git` file."""
    if repo_git is None:
        return None
    with tempfile.TemporaryDirectory(prefix="hermes-bundle-") as folder:
        target = Path(folder) / "card.bundle"
        argv = [
            "git", "--git-dir", str(repo_git), "-c", "core.hooksPath=/dev/null",
            "-c", "core.fsmonitor=false", "bundle", "create", "-q", str(target),
            f"refs/heads/{branch}",
        ]  # fmt: skip
        made = subprocess.run(argv, capture_output=True)
        return target.read_bytes() if made.returncode == 0 and target.exists() else None


class SshRun:
    """One remote execution: its group id (reported first), its output, its exit."""

    def __init__(self, conn: Any, output: Sink, pidfile: str) -> None:
        self.conn, self.output, self.pidfile = conn, output, pidfile
        self.pgid: int | None = None
        self.killed = False
        self._process: Any = None
        self._started = threading.Event()  # the pgid is known (or the start failed)
        self._future: concurrent.futures.Future[int] | None = None

    @property
    def group(self) -> None:
        """No host process group: the pid file on the remote host stands for it."""
        return None

    def begin(self, coro: Coroutine[Any, Any, int]) -> None:
        self._future = _submit(coro)
        self._future.add_done_callback(lambda _f: self._started.set())

    async def follow(self, command: str) -> int:
        """Run `command`, its output into the sink, until it exits."""
        process = await self.conn.create_process(command, encoding=None)
        self._process = process
        first = await process.stderr.readline()
        if first.strip().isdigit():
            self.pgid = int(first)
        self._started.set()
        pumps = [self._pump(process.stdout), self._pump(process.stderr)]
        if first and not first.strip().isdigit():
            self.output.write(first)  # the remote shell's own complaint (no setsid, say)
        await asyncio.gather(*pumps)
        await process.wait_closed()
        if process.exit_signal is not None:
            return -9
        return int(process.exit_status if process.exit_status is not None else -9)

    async def _pump(self, stream: Any) -> None:
        while chunk := await stream.read(65536):
            self.output.write(chunk)

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code once the remote command ended and the worktree came back."""
        assert self._future is not None
        try:
            return self._future.result(timeout)
        except concurrent.futures.TimeoutError:
            return None
        except concurrent.futures.CancelledError:
            return -9

    def kill(self) -> None:
        """TERM then KILL the remote group over a second channel; the execution is over
        within about a second, whether or not the remote host answers."""
        assert self._future is not None
        if self._future.done() or self.killed:
            return
        self.killed = True
        self._started.wait(KILL_WAIT / 2)
        if self.pgid is not None:
            group = f"-{self.pgid}"
            stop = (
                f"kill -TERM -- {group} 2>/dev/null; sleep 0.2; "
                f"kill -KILL -- {group} 2>/dev/null; rm -f {self.pidfile}"
            )
            try:
                _call(self.conn.run(f"{stop}; true"), KILL_WAIT)
            except Exception:  # the host is gone: its pid file is left for the sweep
                pass
        if self._process is not None:
            self._process.close()
        try:
            self._future.result(KILL_WAIT / 2)
        except Exception:
            self._future.cancel()


# -- orphans ------------------------------------------------------------------------------


async def _sweep(spec: BackendSpec, board: str, ended: EndedRuns) -> list[str]:
    conn = await _connect(spec)
    try:
        script = f"cd {Places(str(spec.workdir), board).runs()} 2>/dev/null || exit 0; {SWEEP}"
        keep_line = " ".join(str(run) for run in sorted(ended.live))
        result = await conn.run(f"UPTO={ended.upto}; KEEP={shlex.quote(keep_line)}; {script}")
        killed = str(result.stdout or "").split()
        return [f"remote process group of run {run} on {where(spec)}" for run in killed]
    finally:
        conn.close()
        await conn.wait_closed()


def kill_orphans(spec: BackendSpec, board: str, ended: EndedRuns) -> list[str]:
    """Kill the remote process groups of `board`'s `ended` runs (pid files in the remote
    workdir); returns what was killed."""
    return _call(_sweep(spec, board, ended), CONNECT_TIMEOUT + 15)
