"""The `local` backend: card work as plain processes of this user on this host.

Each execution leads its own process group (a kill takes every process it started that
stayed in the group) and its output is read through a pipe by a pump thread, so what
reaches the run log can be masked on the way. Nothing is contained: the work has the
user's full rights, behind only the approval gate (see docs/security.md).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import BinaryIO

CHUNK = 65536


class LocalBackend:
    """Runs card work directly on this host."""

    kind = "local"

    def describe(self) -> str:
        """What the run log says about where the work runs."""
        return "local (no sandbox: the work has your full rights)"

    def start(
        self, argv: list[str], *, workspace: Path, env: dict[str, str], output: BinaryIO
    ) -> PipedProcess:
        """Start `argv` in its own process group, its output pumped into `output`."""
        return PipedProcess(argv, workspace, env, output)


class PipedProcess:
    """A process group whose combined output a thread copies into a sink."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str], output: BinaryIO) -> None:
        self._proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: a kill takes its children too
        )
        assert self._proc.stdout is not None
        self._pump = threading.Thread(
            target=_pump, args=(self._proc.stdout, output), name="output-pump", daemon=True
        )
        self._pump.start()

    @property
    def group(self) -> int:
        """The process group id (the leader's pid)."""
        return self._proc.pid

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code once the process has exited and its output is all written."""
        try:
            code = self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        # Children that left the group may still hold the pipe open: give the pump a
        # moment, then stop waiting for them (the output they write later is dropped).
        self._pump.join(timeout if timeout is not None else 1.0)
        return code

    def kill(self) -> None:
        """SIGKILL the whole process group."""
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _pump(source: BinaryIO, sink: BinaryIO) -> None:
    """Copy `source` into `sink` as it arrives; `flush` once at the end."""
    try:
        while chunk := os.read(source.fileno(), CHUNK):
            sink.write(chunk)
    finally:
        source.close()
        sink.flush()
