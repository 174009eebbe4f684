"""The `local` backend: card work as plain processes of this user on this host.

Each execution leads its own process group and its output is read through a pipe by a
pump thread, so what reaches the run log can be masked on the way. When the command
ends, whatever it left running in its group ends with it. Nothing is contained: the
work has the user's full rights, behind only the approval gate (see docs/security.md).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from workers.backends.base import Sink

CHUNK = 65536
#: After the command ends, how long its output may still take to drain (a process that
#: left the group may hold the pipe open; what it writes later is dropped).
DRAIN = 1.0


class LocalBackend:
    """Runs card work directly on this host."""

    kind = "local"

    def describe(self) -> str:
        """What the run log says about where the work runs."""
        return "local (no sandbox: the work has your full rights)"

    def start(
        self, argv: list[str], *, workspace: Path, env: dict[str, str], output: Sink
    ) -> PipedProcess:
        """Start `argv` in its own process group, its output pumped into `output`."""
        return PipedProcess(argv, workspace, env, output)


class PipedProcess:
    """A process group whose combined output a thread copies into a sink."""

    def __init__(
        self,
        argv: list[str],
        cwd: Path,
        env: dict[str, str],
        output: Sink,
        *,
        pass_fds: tuple[int, ...] = (),
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self._proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: a kill takes its children too
            pass_fds=pass_fds,
        )
        assert self._proc.stdout is not None
        self._output, self._on_end = output, on_end
        self._ended = False
        self._pump = threading.Thread(
            target=_pump, args=(self._proc.stdout, output), name="output-pump", daemon=True
        )
        self._pump.start()

    @property
    def group(self) -> int:
        """The process group id (the leader's pid)."""
        return self._proc.pid

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code once the command has ended and its output is written."""
        try:
            code = self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._end()
        return code

    def kill(self) -> None:
        """SIGKILL the whole process group."""
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _end(self) -> None:
        """The command ended: its group goes, its output drains, then the sink closes."""
        if self._ended:
            return
        self._ended = True
        self.kill()
        self._pump.join(DRAIN)
        self._output.close()
        if self._on_end is not None:
            self._on_end()


def _pump(source: object, sink: Sink) -> None:
    """Copy `source` into `sink` as it arrives, closing the sink at the end."""
    fd = source.fileno()  # type: ignore[attr-defined]
    try:
        while chunk := os.read(fd, CHUNK):
            sink.write(chunk)
    finally:
        source.close()  # type: ignore[attr-defined]
        sink.close()
