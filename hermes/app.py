"""The supervisor `hermes up` runs: named services, one dying stops the rest loudly.

A service is a coroutine that runs until cancelled: the dispatcher, each chat platform,
the HTTP server. They run side by side in one event loop; if one ends or fails, the
others are stopped and the supervisor says which one and why (exit 1), rather than go on
half-alive. Ctrl-C or SIGTERM stops them all; each cleans up in its own `finally`.
"""

from __future__ import annotations

import asyncio
import signal
import traceback
from collections.abc import Awaitable, Callable, Mapping

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


def _why(task: asyncio.Task[None]) -> str:
    if task.cancelled():
        return "cancelled"
    exc = task.exception()
    if exc is None:
        return "it ended"
    from hermes.errors import HermesError

    if isinstance(exc, HermesError):
        return str(exc)
    return "".join(traceback.format_exception_only(exc)).strip()
