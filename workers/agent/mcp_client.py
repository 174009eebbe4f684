"""A profile's MCP servers as tools of hermes' own agent: `mcp__<server>__<tool>`.

The servers start when the run starts (all of them, before the first model call, so the
model sees every tool from its first turn), their tools are listed once, and they stop
when the run ends, each with its process group. A server that cannot start fails the
attempt with a message naming the server and its command; when the command does not
exist that failure is permanent (retrying will not install it). A tool that fails
answers the model with `error: ...`, as every tool does.

Where they run: on this host, in the card's workspace folder, not on the card's backend
(backends run a command to completion with its output logged; an MCP server is a
conversation over stdin and stdout). They are programs the user configured in the
profile, not something the agent wrote, and they get a minimal environment: `PATH`,
`HOME`, `LANG` and the `env` the profile gives them, never the provider keys and tokens
hermes keeps from card work. See docs/mcp.md and docs/security.md.

The agent loop is synchronous; the MCP SDK is asyncio. The servers live on an event
loop in a thread of their own, and the loop's thread waits for each call while watching
the attempt's stop signal, so a deadline or a lost lease ends a call at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from hermes.errors import HermesError
from profiles.model import MCP_PREFIX, McpServer
from workers.agent.human import LeaseLost
from workers.agent.messages import ToolSpec
from workers.agent.shell import cut
from workers.logs import open_log
from workers.runners.base import RunContext

#: Seconds every server gets to start and list its tools.
STARTUP = 30.0
#: Variables of hermes' own environment a server gets (plus its profile `env`).
BASE_ENV = ("PATH", "HOME", "LANG")
#: Tool names as chat-completions APIs accept them.
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
WHOLE_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
POLL = 0.05
MAX_PAGES = 100
T = TypeVar("T")


class McpServerError(HermesError):
    """An MCP server of the profile could not start (the attempt fails)."""


class McpServerMissing(McpServerError):
    """The server cannot start as configured (its command does not exist, a variable
    its `env` names is unset): retrying cannot help."""

    retryable = False


@dataclass(frozen=True, slots=True)
class McpTool:
    """One tool of one server, as the model sees it and as the server knows it."""

    server: str
    name: str  # the server's own name for it
    spec: ToolSpec
    client: Any  # the connected `mcp.Client`


def server_env(server: McpServer, environ: Mapping[str, str]) -> dict[str, str]:
    """The whole environment of `server`: hermes' `PATH`, `HOME` and `LANG`, and its own
    `env` (a value `${NAME}` is that variable of hermes' environment, so a token need not
    be written into the profile)."""
    env = {name: environ[name] for name in BASE_ENV if name in environ}
    for name, value in server.env.items():
        reference = WHOLE_REFERENCE.match(value)
        if reference is None:
            env[name] = value
        elif reference[1] in environ:
            env[name] = environ[reference[1]]
        else:
            raise McpServerMissing(
                f"MCP server {server.name!r}: env {name} is ${{{reference[1]}}}, but "
                f"{reference[1]} is not set where the dispatcher runs; set it, or give a value"
            )
    return env


def describe(server: McpServer) -> str:
    """The server's command line, as messages show it."""
    return " ".join([server.command, *server.args])


def check_command(server: McpServer, env: Mapping[str, str], cwd: Path) -> None:
    """Refuse, before starting anything, a server whose command does not exist."""
    command = server.command
    if "/" in command:
        path = cwd / Path(command).expanduser()
        found = path.is_file() and os.access(path, os.X_OK)
    else:
        found = shutil.which(command, path=env.get("PATH", os.defpath)) is not None
    if not found:
        raise McpServerMissing(
            f"MCP server {server.name!r}: command {command!r} not found "
            f"(mcp_servers runs `{describe(server)}` in the card's workspace with PATH from "
            "the dispatcher's environment); install it or fix the profile's mcp_servers"
        )


class McpTools:
    """The profile's MCP servers for one run: started together, tools listed once,
    stopped together."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.tools: dict[str, McpTool] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()

    # -- the run's thread -----------------------------------------------------------------

    def start(self) -> None:
        """Start every server and list its tools; raises `McpServerError` (after stopping
        the ones that did start) when one cannot, `LeaseLost` if the attempt is halted."""
        servers = self.ctx.profile.mcp_servers
        envs = {s.name: server_env(s, os.environ) for s in servers}
        for server in servers:
            check_command(server, envs[server.name], self.ctx.workspace)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._main(envs)), name="mcp-servers", daemon=True
        )
        self._thread.start()
        limit = STARTUP * len(servers) + 5  # each server has its own limit inside this
        try:
            self._wait(self._ready, limit)
        except TimeoutError:
            self.close()
            raise McpServerError(f"the MCP servers did not start within {limit:g}s") from None
        except BaseException:
            self.close()
            raise

    def specs(self) -> list[ToolSpec]:
        """Every server's tools, as offered to the model."""
        return [tool.spec for tool in self.tools.values()]

    def call(self, name: str, arguments: dict[str, Any], limit: float) -> str:
        """Call tool `name` (`mcp__server__tool`) and return what the model reads."""
        tool = self.tools[name]
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(_call(tool, arguments), self._loop)
        try:
            return self._wait(future, limit)
        except TimeoutError:
            future.cancel()
            return f"error: MCP tool {tool.name} of {tool.server} did not answer within {limit:g}s"

    def close(self) -> None:
        """Stop every server (idempotent)."""
        self._closed.set()
        loop, stopping, thread = self._loop, self._stopping, self._thread
        if loop is not None and stopping is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:  # the loop has just ended on its own
                pass
        if thread is not None:
            thread.join(STARTUP)
        self._thread = None

    def _wait(self, future: concurrent.futures.Future[T], limit: float) -> T:
        """The future's result, waiting at most `limit` seconds, unless the attempt halts."""
        deadline = time.monotonic() + limit
        while True:
            concurrent.futures.wait([future], timeout=POLL)
            # A halt kills the servers, so their calls end too: the halt is the news.
            if self.ctx.stop.is_set():
                future.cancel()
                raise LeaseLost()
            if future.done():
                return future.result()
            if time.monotonic() >= deadline:
                raise TimeoutError()

    # -- the servers' thread --------------------------------------------------------------

    async def _main(self, envs: dict[str, dict[str, str]]) -> None:
        """Start the servers one by one, then hold them until `close`."""
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        holders: list[asyncio.Task[None]] = []
        try:
            for server in self.ctx.profile.mcp_servers:
                holders.append(await self._start(server, envs[server.name]))
            self._ready.set_result(None)
            if not self._closed.is_set():  # `close` may have come before this loop existed
                await self._stopping.wait()
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(_started_error(exc))
        finally:
            self._stopping.set()  # every server stops at once
            await asyncio.gather(*holders, return_exceptions=True)

    async def _start(self, server: McpServer, env: dict[str, str]) -> asyncio.Task[None]:
        """Start one server within `STARTUP` seconds; its holder task keeps it running."""
        listed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        holder = asyncio.create_task(self._hold(server, env, listed), name=f"mcp-{server.name}")
        try:
            await asyncio.wait_for(asyncio.shield(listed), STARTUP)
        except TimeoutError:
            holder.cancel()  # a task's cancellation unwinds the SDK's task groups cleanly
            await asyncio.gather(holder, return_exceptions=True)
            raise McpServerError(
                f"MCP server {server.name!r} (`{describe(server)}`) did not answer within "
                f"{STARTUP:g}s; see its output in the run log"
            ) from None
        except Exception as exc:
            await asyncio.gather(holder, return_exceptions=True)
            raise McpServerError(
                f"MCP server {server.name!r} (`{describe(server)}`) failed to start: "
                f"{_reason(exc)}; see its output in the run log"
            ) from None
        return holder

    async def _hold(
        self, server: McpServer, env: dict[str, str], listed: asyncio.Future[None]
    ) -> None:
        """Run one server: connect, take note of its tools, say so through `listed`, and
        keep the connection until the run ends. Enter and exit in this one task, as the
        SDK's task groups require."""
        from mcp import Client

        from workers.agent.mcp_stdio import ServerGroup, stdio_server

        attempt = self.ctx.attempt
        assert self._stopping is not None
        try:
            async with AsyncExitStack() as stack:

                def started(group: ServerGroup) -> None:  # a halt kills it, wherever we are
                    attempt.track(group)
                    stack.callback(attempt.forget, group)

                errors = stack.enter_context(_ErrorLog(self.ctx, server.name))
                argv = [server.command, *server.args]
                transport = stdio_server(
                    argv, cwd=self.ctx.workspace, env=env, stderr=errors.fd, started=started
                )
                client = await stack.enter_async_context(Client(transport))
                tools = await _list_tools(client)
                errors.line(f"started `{describe(server)}`: {len(tools)} tool(s)")
                for tool in tools:
                    self._add(server.name, tool, client, errors)
                listed.set_result(None)
                await self._stopping.wait()
        except asyncio.CancelledError:
            if not listed.done():
                listed.cancel()
            raise
        except Exception as exc:
            if not listed.done():
                listed.set_exception(exc)
            else:  # it had started: the run goes on without it (its calls answer errors)
                log_line(self.ctx, server.name, f"stopped: {_reason(exc)}")

    def _add(self, server: str, tool: Any, client: Any, errors: _ErrorLog) -> None:
        name = f"{MCP_PREFIX}{server}__{re.sub(r'[^A-Za-z0-9_-]', '_', tool.name)}"
        if not TOOL_NAME.match(name) or name in self.tools:
            errors.line(f"tool {tool.name!r} left out: {name!r} is too long or taken")
            return
        schema = tool.input_schema or {"type": "object", "properties": {}}
        about = tool.description or tool.title or tool.name
        spec = ToolSpec(name, f"{about} (MCP server {server})", dict(schema))
        self.tools[name] = McpTool(server, tool.name, spec, client)


async def _list_tools(client: Any) -> list[Any]:
    tools: list[Any] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools += page.tools
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


async def _call(tool: McpTool, arguments: dict[str, Any]) -> str:
    """One call; whatever goes wrong is an `error: ...` result for the model."""
    try:
        result = await tool.client.call_tool(tool.name, arguments)
    except Exception as exc:
        return f"error: MCP server {tool.server!r}: {_reason(exc)}"
    text = cut(_text(result))
    return f"error: {text}" if result.is_error else text


def _text(result: Any) -> str:
    """A tool result as text: its text parts, a note for anything else."""
    parts: list[str] = []
    for item in result.content:
        kind = getattr(item, "type", "")
        if kind == "text":
            parts.append(item.text)
        elif kind in ("image", "audio"):
            parts.append(f"[{kind} {getattr(item, 'mime_type', '')}]")
        elif kind == "resource":
            parts.append(getattr(item.resource, "text", None) or str(item.resource.uri))
        else:
            parts.append(f"[{kind or 'content'}]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts) or "(no output)"


def _reason(exc: BaseException) -> str:
    """The innermost error of `exc` (task groups wrap what actually went wrong)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, HermesError) else f"{type(exc).__name__}: {text}"


def _started_error(exc: BaseException) -> BaseException:
    inner = exc
    while isinstance(inner, BaseExceptionGroup) and inner.exceptions:
        inner = inner.exceptions[0]
    if isinstance(inner, McpServerError):
        return inner
    return McpServerError(f"the MCP servers failed to start: {_reason(exc)}")


class _ErrorLog:
    """A server's stderr, masked, into the run log as `[mcp NAME] ...` lines (a thread
    copies it while the server runs)."""

    def __init__(self, ctx: RunContext, server: str) -> None:
        self.ctx, self.server = ctx, server
        read_end, self.fd = os.pipe()
        self._reader = threading.Thread(
            target=self._copy, args=(read_end,), name=f"mcp-{server}-stderr", daemon=True
        )

    def __enter__(self) -> _ErrorLog:
        self._reader.start()
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # the server has ended: the reader sees end of file
        self._reader.join(1.0)

    def line(self, text: str) -> None:
        """One line about this server in the run log."""
        log_line(self.ctx, self.server, text)

    def _copy(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as source:
            for raw in source:
                self.line(raw.decode("utf-8", errors="replace"))


def log_line(ctx: RunContext, server: str, text: str) -> None:
    """`[mcp NAME HH:MM:SS] text` in the run log, masked."""
    stamp = datetime.now().strftime("%H:%M:%S")
    masked = ctx.masker.text(text.rstrip("\n"))
    with open_log(ctx.log_path) as handle:
        handle.write(f"[mcp {server} {stamp}] {masked}\n".encode())
