"""Running front doors together: named services, one dying stops the rest loudly.

A service is a coroutine that runs until cancelled: each chat platform, the HTTP server.
They run side by side in one event loop; if one ends or fails, the others are stopped
and the supervisor says which one and why (exit 1), rather than go on half-alive. Ctrl-C
or SIGTERM stops them all; each cleans up in its own `finally`. `hermes up` runs them
beside the dispatcher, which owns the signals and drains gracefully first.
"""

from __future__ import annotations

import asyncio
import signal
import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

Service = Callable[[], Awaitable[None]]
Report = Callable[[str], None]


async def supervise(services: Mapping[str, Service], report: Report) -> int:
    """Run every service until a signal (exit 0) or until one of them stops (exit 1)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = {
        asyncio.create_task(_run(factory), name=name): name for name, factory in services.items()
    }
    stopping = asyncio.create_task(_wait(stop), name="signal")
    try:
        done, _ = await asyncio.wait([*tasks, stopping], return_when=asyncio.FIRST_COMPLETED)
        failed = [task for task in done if task is not stopping]
        for task in failed:
            report(f"{tasks[task]} stopped: {_why(task)}; stopping the rest")
        if not failed:
            report("stopping: " + ", ".join(tasks.values()))
        return 1 if failed else 0
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        stopping.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _run(factory: Service) -> None:
    await factory()


async def _wait(event: asyncio.Event) -> None:
    await event.wait()


def _why(task: asyncio.Task[Any]) -> str:
    if task.cancelled():
        return "cancelled"
    exc = task.exception()
    if exc is None:
        return "it ended"
    from hermes.errors import HermesError

    if isinstance(exc, HermesError):
        return str(exc)
    return "".join(traceback.format_exception_only(exc)).strip()


class Stoppable(Protocol):
    """The dispatcher as `hermes up` runs it: it owns Ctrl-C and SIGTERM (a graceful
    drain), and can be asked to stop when a service beside it fails."""

    async def run(self) -> int: ...

    def request_stop(self) -> None: ...


async def run_beside(main: Stoppable, services: Mapping[str, Service], report: Report) -> int:
    """`hermes up`: the dispatcher, with the servers and chat platforms beside it.

    A signal drains the dispatcher as `dispatcher start` would (the web board and the
    chats stay up meanwhile, so approvals can still arrive), then the services stop. A
    service that fails stops the dispatcher the same graceful way, and the exit is 1."""
    dispatching = asyncio.create_task(main.run(), name="dispatcher")
    tasks = {
        asyncio.create_task(_run(factory), name=name): name for name, factory in services.items()
    }
    failed = False
    try:
        pending: set[asyncio.Task[Any]] = {dispatching, *tasks}
        while not dispatching.done():
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done - {dispatching}:
                report(f"{tasks[task]} stopped: {_why(task)}; stopping the dispatcher")
                failed = True
                main.request_stop()
        code = dispatching.result()
        return 1 if failed else code
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if not dispatching.done():  # cancelled from outside: let it clean up
            dispatching.cancel()
            await asyncio.gather(dispatching, return_exceptions=True)
