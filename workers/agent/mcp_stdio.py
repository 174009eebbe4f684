"""One MCP server process for an agent's run: started with exactly the environment we
give it, its stderr in the run log, stopped with its whole process group.

The MCP SDK has a stdio client of its own, but it adds variables of ours to the server's
environment and keeps the process to itself. hermes needs three things it does not
give: the environment exactly as built (`PATH`, `HOME`, `LANG` and the server's own
`env`: never a provider key or a token hermes keeps from card work), the process group,
so the attempt can kill the server at a halt (`ServerGroup` is an `Execution` the
attempt tracks), and the server's stderr masked into the run log, where a user looks
when a server will not start. The JSON-RPC framing (one message per line) is the SDK's.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import anyio
import anyio.abc
import mcp_types as types
from mcp.client._transport import TransportStreams
from mcp.shared.message import SessionMessage

#: How long a server may take to exit on its own once its stdin closes.
STOP_GRACE = 2.0
#: How long to wait for the kernel to report a killed server gone.
REAP = 2.0
POLL = 0.02


class ServerGroup:
    """A server's process group, as the attempt tracks process trees: killed whole at a
    halt, whatever the run's thread is doing."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.ended = threading.Event()

    @property
    def group(self) -> int:
        """The group id (the server leads its own group)."""
        return self.pid

    def wait(self, timeout: float | None = None) -> int | None:
        """0 once the server has exited, None while it runs."""
        return 0 if self.ended.wait(timeout) else None

    def kill(self) -> None:
        """SIGKILL the whole group (idempotent)."""
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)


@asynccontextmanager
async def stdio_server(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    stderr: int,
    started: Callable[[ServerGroup], None],
) -> AsyncIterator[TransportStreams]:
    """Start `argv` and speak MCP with it over its stdin and stdout (an MCP `Transport`).
    `started` hears of its process group as soon as it exists."""
    process = await anyio.open_process(
        argv, cwd=cwd, env=env, stderr=stderr, start_new_session=True
    )
    group = ServerGroup(process.pid)
    started(group)
    incoming_in, incoming = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    outgoing, outgoing_out = anyio.create_memory_object_stream[SessionMessage](0)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(_read, process, incoming_in)
        tasks.start_soon(_write, process, outgoing_out)
        try:
            yield incoming, outgoing
        finally:
            with anyio.CancelScope(shield=True):
                await _stop(process, group)
            tasks.cancel_scope.cancel()


async def _read(
    process: anyio.abc.Process, sink: anyio.abc.ObjectSendStream[SessionMessage | Exception]
) -> None:
    """The server's stdout, one JSON-RPC message a line, into the session."""
    assert process.stdout is not None
    buffer = b""
    async with sink:
        with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            async for chunk in process.stdout:
                *lines, buffer = (buffer + chunk).split(b"\n")
                for line in lines:
                    if line.strip():
                        await sink.send(_parse(line))


def _parse(line: bytes) -> SessionMessage | Exception:
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as exc:  # the session reports it; the server may still recover
        return exc


async def _write(
    process: anyio.abc.Process, source: anyio.abc.ObjectReceiveStream[SessionMessage]
) -> None:
    """The session's messages onto the server's stdin, one a line."""
    assert process.stdin is not None
    async with source:
        with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            async for message in source:
                data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                await process.stdin.send((data + "\n").encode())


async def _stop(process: anyio.abc.Process, group: ServerGroup) -> None:
    """Close stdin (MCP's way of saying goodbye), give the server a moment, then kill its
    group: whatever it started goes with it."""
    assert process.stdin is not None and process.stdout is not None
    with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        await process.stdin.aclose()
    await _exited(process, STOP_GRACE)
    group.kill()
    await _exited(process, REAP)
    group.ended.set()
    with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        await process.stdout.aclose()


async def _exited(process: anyio.abc.Process, timeout: float) -> bool:
    """Whether the process is gone within `timeout` (polled: `wait()` would also wait
    for the pipes, which a child of the server may hold open)."""
    with anyio.move_on_after(timeout):
        while process.returncode is None:
            await anyio.sleep(POLL)
    return process.returncode is not None
