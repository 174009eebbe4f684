"""The dispatcher's side of the worker template: spawn workers, hear of their runs' ends.

See `workers.template` for the protocol. A spawn request is written and not waited for:
the dispatcher claims the next card while the template hands it out, and hears the
worker's pid from the template's `spawned` report. Reports come in order (a run's spawn
before its end), so the pid of every worker is known before its run ends; a light worker
works several runs in turn, and its `finished` report ends its run as an exit would.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable

from workers.job import WorkerJob

ExitHandler = Callable[[int, int], None]  # (pid, exit code): the run of that pid ended
SpawnHandler = Callable[[int, int], None]  # (run id, pid)


class TemplateDied(RuntimeError):
    """The worker template exited: no more workers can start."""


class WorkerPool:
    """A running worker template and the workers it forked for us."""

    def __init__(
        self,
        on_exit: ExitHandler,
        kind: str = "light",
        on_spawn: SpawnHandler = lambda _run, _pid: None,
    ) -> None:
        self.kind = kind
        self._on_exit, self._on_spawn = on_exit, on_spawn
        self._proc: asyncio.subprocess.Process | None = None
        self._pending: set[int] = set()  # run ids asked for, not yet reported spawned
        self._spawned = asyncio.Event()
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

    async def spawn(self, job: WorkerJob) -> None:
        """Ask for a worker for `job`; its pid comes to `on_spawn` once it is forked."""
        await self.ready.wait()
        assert self._proc is not None and self._proc.stdin is not None
        self._pending.add(job.run_id)
        self._proc.stdin.write(job.to_line())
        await self._proc.stdin.drain()

    async def settled(self) -> None:
        """Wait until every worker asked for has been reported spawned."""
        while self._pending and self._proc is not None and self._proc.returncode is None:
            self._spawned.clear()
            await self._spawned.wait()

    async def listen(self) -> None:
        """Read the template's reports until it exits (a supervised task)."""
        assert self._proc is not None and self._proc.stdout is not None
        while line := await self._proc.stdout.readline():
            message = json.loads(line)
            if "exited" in message:
                self._on_exit(int(message["exited"]), int(message["code"]))
            elif "finished" in message:  # the worker stays, free for another run
                self._on_exit(int(message["pid"]), int(message["code"]))
            elif "spawned" in message:
                run_id = int(message["spawned"])
                self._pending.discard(run_id)
                self._on_spawn(run_id, int(message["pid"]))
                self._spawned.set()
        self._spawned.set()
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
