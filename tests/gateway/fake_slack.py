"""A fake Slack on loopback, far enough for the real slack-bolt/slack-sdk to talk to it.

The Web API over HTTP (`auth.test`, `apps.connections.open`, `chat.postMessage`,
`chat.update`, `chat.postEphemeral`) at `url` (the `api_base` to configure), and the
Socket Mode websocket that `apps.connections.open` hands out: `hello` on connect, then
`events_api` envelopes (message.im, app_mention) and `interactive` ones (block_actions)
that a test injects, each acknowledged by the client with its `envelope_id`. It records
what the bot posted and edited, and can fail or hold (never answer) the next sends.

It runs in a thread of its own, so synchronous tests and tests whose event loop runs the
bot can both drive it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import WSMsgType, web

T = TypeVar("T")
TEAM, APP = "T0FAKE", "A0FAKE"


@dataclass
class Posted:
    """A message the bot posted, with each later `chat.update` of it."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> dict[str, Any]:
        """The message as Slack shows it now (after its last edit)."""
        return self.edits[-1] if self.edits else {"text": self.text, "blocks": self.blocks}

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """The buttons under the message now."""
        blocks = self.current.get("blocks") or []
        return [e for b in blocks if b.get("type") == "actions" for e in b.get("elements", [])]


class FakeSlack:
    """The server; `with FakeSlack() as slack:` starts it, `slack.url` is its api_base."""

    def __init__(self, bot_token: str = "xoxb-fake", app_token: str = "xapp-fake") -> None:
        self.bot_token, self.app_token, self.bot_user = bot_token, app_token, "U0HERMES"
        self.posted: list[Posted] = []
        self.ephemeral: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []  # every Web API call, in order
        self.acks: dict[str, Any] = {}  # envelope_id -> the ack's payload (or None)
        self.held: list[dict[str, Any]] = []  # sends received but never answered
        self.failures: list[tuple[int, float | None]] = []  # the next sends fail like this
        self.holds = 0  # the next this many sends are held
        self._ids, self._sockets = itertools.count(1), list[web.WebSocketResponse]()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._release = asyncio.Event()
        self.url = ""

    # -- life -----------------------------------------------------------------------------

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        self.url = self._run(self._start())
        return self

    def __exit__(self, *_exc: object) -> None:
        self._run(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _start(self) -> str:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/link/", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/api/"

    async def _stop(self) -> None:
        self._release.set()
        for socket in list(self._sockets):
            await socket.close()
        await self._runner.cleanup()

    # -- what a test does -----------------------------------------------------------------

    @property
    def connected(self) -> int:
        """How many Socket Mode connections are open."""
        return sum(1 for s in self._sockets if not s.closed)

    def fail(self, times: int, status: int = 500, retry_after: float | None = None) -> None:
        """Fail the next `times` sends or edits with `status` (429: with Retry-After)."""
        self.failures.extend([(status, retry_after)] * times)

    def message(self, channel: str, user: str, text: str, **event: Any) -> str:
        """A person writes `text` (a DM unless `channel_type` says otherwise); returns
        its ts. `thread_ts` puts it in a thread; `ts` repeats an earlier message."""
        ts = event.pop("ts", None) or self._ts()
        body = {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts}
        body.update({"event_ts": ts, "team": TEAM, "channel_type": "im", **event})
        if body.get("thread_ts"):
            body["parent_user_id"] = self._author(channel, body["thread_ts"], user)
        self.envelope("events_api", self._event(body))
        return ts

    def mention(self, channel: str, user: str, text: str, **event: Any) -> str:
        """A person mentions the bot in a channel: `<@bot> text`; returns its ts."""
        ts = event.pop("ts", None) or self._ts()
        body = {"type": "app_mention", "channel": channel, "user": user, "ts": ts}
        body.update({"text": f"<@{self.bot_user}> {text}", "event_ts": ts, "team": TEAM, **event})
        self.envelope("events_api", self._event(body))
        return ts

    def press(self, user: str, posted: Posted, label: str) -> str:
        """A person presses the button labelled `label` under `posted`; returns the
        envelope id."""
        button = next(b for b in posted.buttons if b["text"]["text"] == label)
        return self.click(user, posted.channel, posted.ts, button)

    def click(self, user: str, channel: str, ts: str, button: dict[str, Any]) -> str:
        """A `block_actions` press of `button` (as the bot made it) on message `ts`."""
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": TEAM},
            "api_app_id": APP,
            "team": {"id": TEAM, "domain": "fake"},
            "container": {"type": "message", "message_ts": ts, "channel_id": channel,
                          "is_ephemeral": False},
            "channel": {"id": channel, "name": "directmessage"},
            "message": {"ts": ts, "type": "message"},
            "trigger_id": f"trigger-{next(self._ids)}",
            "actions": [{**button, "block_id": "hermes-buttons", "action_ts": self._ts()}],
        }  # fmt: skip
        return self.envelope("interactive", payload)

    def envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Send one Socket Mode envelope on the newest connection; returns its id."""
        envelope_id = f"env-{next(self._ids)}"
        body: dict[str, Any] = {"envelope_id": envelope_id, "type": kind, "payload": payload}
        body["accepts_response_payload"] = False
        self._run(self._newest().send_str(json.dumps(body)))
        return envelope_id

    def drop(self) -> None:
        """Close every Socket Mode connection (as Slack does now and then)."""
        for socket in list(self._sockets):
            self._run(socket.close())

    def texts(self, channel: str) -> list[str]:
        """What the channel shows now, oldest first (text as sent: escaped)."""
        return [p.current["text"] for p in self.posted if p.channel == channel]

    # -- the Web API ----------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = dict(await request.post()) if request.content_type != "application/json" else {}
        if request.content_type == "application/json":
            params = await request.json()
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        token = str(params.pop("token", "") or token)
        self.calls.append((method, params))
        wanted = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != wanted:
            return _ok(False, error="invalid_auth")
        if method in ("chat.postMessage", "chat.update") and (self.failures or self.holds):
            return await self._trouble(params)
        return self._method(method, params)

    async def _trouble(self, params: dict[str, Any]) -> web.StreamResponse:
        if self.holds:
            self.holds -= 1
            self.held.append(params)
            await self._release.wait()  # the client gives up (or dies) first
            return _ok(False, error="fatal_error")
        status, wait = self.failures.pop(0)
        if status == 429:
            headers = {"Retry-After": f"{wait or 1:g}"}
            return _ok(False, error="ratelimited", status=429, headers=headers)
        return web.Response(status=status, text="<html>oops</html>", content_type="text/html")

    def _method(self, method: str, params: dict[str, Any]) -> web.StreamResponse:
        if method == "auth.test":
            return _ok(user_id=self.bot_user, bot_id="B0HERMES", team_id=TEAM, user="hermes")
        if method == "apps.connections.open":
            return _ok(url=f"ws{self.url[4:-5]}/link/?ticket={next(self._ids)}")
        if method == "chat.postMessage":
            ts, thread = self._ts(), params.get("thread_ts")
            channel, text = params["channel"], params.get("text", "")
            self.posted.append(Posted(channel, ts, text, params.get("blocks") or [], thread))
            return _ok(channel=channel, ts=ts, message={"text": text})
        if method == "chat.update":
            found = [
                p for p in self.posted if (p.channel, p.ts) == (params["channel"], params["ts"])
            ]
            if not found:
                return _ok(False, error="message_not_found")
            found[0].edits.append({"text": params.get("text", ""), "blocks": params.get("blocks")})
            return _ok(channel=params["channel"], ts=params["ts"])
        if method == "chat.postEphemeral":
            self.ephemeral.append(params)
            return _ok(message_ts=self._ts())
        return _ok(False, error="unknown_method")

    # -- Socket Mode ----------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        hello = {"type": "hello", "num_connections": self.connected}
        await socket.send_str(json.dumps({**hello, "connection_info": {"app_id": APP}}))
        try:
            async for frame in socket:
                if frame.type == WSMsgType.TEXT:
                    ack = json.loads(frame.data)
                    self.acks[ack["envelope_id"]] = ack.get("payload")
        finally:
            self._sockets.remove(socket)
        return socket

    def _newest(self) -> web.WebSocketResponse:
        live = [s for s in self._sockets if not s.closed]
        if not live:
            raise AssertionError("no Socket Mode connection is open")
        return live[-1]

    def _event(self, event: dict[str, Any]) -> dict[str, Any]:
        return {
            "token": "verification", "team_id": TEAM, "api_app_id": APP, "event": event,
            "type": "event_callback", "event_id": f"Ev{next(self._ids)}",
            "event_time": int(float(event["ts"])),
            "authorizations": [{"team_id": TEAM, "user_id": self.bot_user, "is_bot": True}],
        }  # fmt: skip

    def _author(self, channel: str, ts: str, otherwise: str) -> str:
        mine = any((p.channel, p.ts) == (channel, ts) for p in self.posted)
        return self.bot_user if mine else otherwise

    def _ts(self) -> str:
        n = next(self._ids)
        return f"{1_700_000_000 + n}.{n:06d}"


def _ok(ok: bool = True, *, status: int = 200, headers: Any = None, **data: Any) -> web.Response:
    return web.json_response({"ok": ok, **data}, status=status, headers=headers)
