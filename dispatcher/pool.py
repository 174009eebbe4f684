"""The dispatcher's side of the worker template: spawn workers, hear of their exits.

See `workers.template` for the protocol. Spawns are serialised (one request in flight),
which keeps the exchange trivial and costs nothing: a fork takes a few milliseconds.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable

from workers.job import WorkerJob

ExitHandler = Callable[[int, int], None]


class TemplateDied(RuntimeError):
    """The worker template exited: no more workers can start."""


class WorkerPool:
    """A running worker template and the workers it forked for us."""

    def __init__(self, on_exit: ExitHandler, kind: str = "light") -> None:
        self.kind = kind
        self._on_exit = on_exit
        self._proc: asyncio.subprocess.Process | None = None
        self._spawn_lock = asyncio.Lock()
        self._spawned: asyncio.Future[int] | None = None
        self.ready = asyncio.Event()
        self.started = False

    async def start(self) -> None:
        """Start the template and wait until it has imported everything a worker needs."""
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "workers.template",
            self.kind,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._proc.stdout is not None
        first = await self._proc.stdout.readline()
        if json.loads(first or b"{}").get("ready") is not True:
            raise TemplateDied(f"the {self.kind} worker template did not start: {first!r}")
        self.ready.set()

    async def spawn(self, job: WorkerJob) -> int:
        """Start a worker for `job`; returns its pid (also its process group)."""
        await self.ready.wait()
        assert self._proc is not None and self._proc.stdin is not None
        async with self._spawn_lock:
            self._spawned = asyncio.get_running_loop().create_future()
            self._proc.stdin.write(job.to_line())
            await self._proc.stdin.drain()
            return await self._spawned

    async def listen(self) -> None:
        """Read the template's reports until it exits (a supervised task)."""
        assert self._proc is not None and self._proc.stdout is not None
        while line := await self._proc.stdout.readline():
            message = json.loads(line)
            if "exited" in message:
                self._on_exit(int(message["exited"]), int(message["code"]))
            elif "spawned" in message and self._spawned is not None:
                self._spawned.set_result(int(message["pid"]))
        raise TemplateDied(f"the {self.kind} worker template exited")

    async def close(self) -> None:
        """Let the template go; workers still running are left to finish on their own."""
        if self._proc is None or self._proc.returncode is not None:
            return
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            await asyncio.wait_for(self._proc.wait(), 5)
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()
