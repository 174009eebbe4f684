"""A Discord server on 127.0.0.1, speaking enough of REST v10 and the gateway websocket
for the real discord.py: login, HELLO/IDENTIFY/READY, heartbeats, resume, messages with
buttons and replies, edits, and button presses with their answers.

It runs on its own thread (its own event loop), so a test can drive it from anywhere: a
synchronous test, an asyncio test, or one whose gateway is another process. A test plays
the users (`say`, `press`, `redeliver`), reads what the bot sent and edited (`sent`,
`edits`, `messages`, `answers`, `texts`), and makes Discord refuse: the next sends fail
with 500s or 429 + retry_after (`fail_next`), a channel is gone (`gone`), sends are taken
but not answered (`hold`/`release`), the connection drops (`drop`).

    with FakeDiscord() as fake:
        # the bot's api_base is fake.api_base, its gateway_url fake.gateway_url
        fake.say(DM, ALICE, "echo hi")
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import WSMsgType, web

T = TypeVar("T")
TOKEN = "fake-discord-token"
BOT_ID, APP_ID = "900000000000000001", "900000000000000002"
API = "/api/v10"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def user(user_id: str, name: str = "", *, bot: bool = False) -> dict[str, Any]:
    """A user object."""
    name = name or f"user{user_id[-3:]}"
    return {"id": user_id, "username": name, "discriminator": "0", "global_name": name,
            "avatar": None, "bot": bot}  # fmt: skip


BOT = user(BOT_ID, "hermes", bot=True)
APPLICATION = {"id": APP_ID, "name": "hermes", "description": "", "icon": None,
               "bot_public": False, "bot_require_code_grant": False, "verify_key": "00",
               "owner": user("100000000000000009"), "flags": 0}  # fmt: skip
MEMBER = {"roles": [], "joined_at": "2026-01-01T00:00:00+00:00", "deaf": False,
          "mute": False, "flags": 0}  # fmt: skip


def rendered(text: str) -> str:
    """What a Discord client shows of the bot's escaped text."""
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)


class FakeDiscord:
    """The fake server; a context manager that starts and stops it."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = self.gateway_token = token  # what REST and IDENTIFY accept
        self.sent: list[dict[str, Any]] = []  # POSTed bot messages: the body, id, channel_id
        self.edits: list[dict[str, Any]] = []  # PATCHes: the body, id, channel_id
        self.answers: list[dict[str, Any]] = []  # interaction callbacks and follow-ups
        self.messages: dict[str, dict[str, Any]] = {}  # every message by id, as it is now
        self.gone: set[str] = set()  # channels that answer 404
        self.identified, self.intents = 0, None
        self._failures: list[tuple[int, float | None]] = []
        self._held: asyncio.Event | None = None
        self._sockets: set[web.WebSocketResponse] = set()
        self._ids, self._seq = itertools.count(10**18), itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    def __enter__(self) -> FakeDiscord:
        self._thread.start()
        self._call(self._start())
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()
        self._call(self._close_all(1001))
        if self._runner is not None:
            self._call(self._runner.cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def connected(self) -> int:
        """How many identified gateway connections are open."""
        return len(self._sockets)

    # -- what a test does -----------------------------------------------------------

    def say(self, channel: str, user_id: str, text: str, *, guild: str | None = None,
            mention: bool = False, reply_to: str | None = None) -> str:  # fmt: skip
        """A user writes in `channel` (a DM unless `guild`); returns the message id."""
        content = f"<@{BOT_ID}> {text}" if mention else text
        message = self._message(channel, user(user_id), content, reply_to=reply_to)
        message["mentions"] = [BOT] if mention else []
        if guild:
            message.update(guild_id=guild, member=MEMBER)
        self.dispatch("MESSAGE_CREATE", message)
        return str(message["id"])

    def redeliver(self, message_id: str) -> None:
        """The same MESSAGE_CREATE again (as after a resume)."""
        self.dispatch("MESSAGE_CREATE", self.messages[message_id])

    def press(self, channel: str, user_id: str, message_id: str, custom_id: str) -> str:
        """A user presses the button `custom_id` under `message_id`; returns its id."""
        iid, message = str(next(self._ids)), self.messages[message_id]
        guild = message.get("guild_id")
        interaction: dict[str, Any] = {
            "id": iid, "application_id": APP_ID, "type": 3, "token": f"token-{iid}",
            "version": 1, "attachment_size_limit": 8 << 20, "channel_id": channel,
            "channel": {"id": channel, "type": 0 if guild else 1}, "message": message,
            "data": {"custom_id": custom_id, "component_type": 2}, "app_permissions": "0",
        }  # fmt: skip
        if guild:
            interaction.update(guild_id=guild, member={**MEMBER, "user": user(user_id)})
        else:
            interaction["user"] = user(user_id)
        self.dispatch("INTERACTION_CREATE", interaction)
        return iid

    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a gateway event to every identified connection."""
        self._call(self._send_all({"op": 0, "t": event, "s": next(self._seq), "d": data}))

    def fail_next(self, count: int, status: int = 500, retry_after: float | None = None) -> None:
        """The next `count` sends or edits fail with `status` (429: with `retry_after`)."""
        self._failures.extend([(status, retry_after)] * count)

    def hold(self) -> None:
        """From now on, sends are recorded but not answered until `release()`."""
        self._held = asyncio.Event()

    def release(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            self._loop.call_soon_threadsafe(held.set)

    def drop(self) -> None:
        """Close every gateway connection abnormally (the client resumes)."""
        self._call(self._close_all(4000))

    def texts(self, channel: str) -> list[str]:
        """The bot's messages in `channel` as a client shows them now, oldest first."""
        sent = [self.messages[m["id"]] for m in self.sent if m["channel_id"] == channel]
        return [rendered(m["content"]) for m in sent]

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _start(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        urls = {"url": self.gateway_url, "shards": 1, "session_start_limit": {}}
        for path, body in {"/gateway": urls, "/gateway/bot": urls}.items():
            app.router.add_get(API + path, self._static(body, auth=False))
        for path, body in {"/users/@me": BOT, "/oauth2/applications/@me": APPLICATION}.items():
            app.router.add_get(API + path, self._static(body))
        app.router.add_post(API + "/channels/{channel}/messages", self._post)
        app.router.add_patch(API + "/channels/{channel}/messages/{message}", self._patch)
        app.router.add_post(API + "/interactions/{id}/{token}/callback", self._callback)
        app.router.add_post(API + "/webhooks/{app}/{token}", self._followup)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    # -- the gateway ----------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}})
        try:
            async for frame in ws:
                if frame.type is WSMsgType.TEXT:
                    await self._on_frame(ws, json.loads(frame.data))
        finally:
            self._sockets.discard(ws)
        return ws

    async def _on_frame(self, ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
        op, data = frame.get("op"), frame.get("d") or {}
        if op == 1:  # HEARTBEAT
            await ws.send_json({"op": 11})
        elif op in (2, 6) and data.get("token") != self.gateway_token:
            await ws.close(code=4004, message=b"Authentication failed.")
        elif op == 2:  # IDENTIFY
            self.identified, self.intents = self.identified + 1, data.get("intents")
            self._sockets.add(ws)
            ready = {"v": 10, "user": BOT, "guilds": [], "session_id": f"s{self.identified}",
                     "resume_gateway_url": self.gateway_url,
                     "application": {"id": APP_ID, "flags": 0}}  # fmt: skip
            await ws.send_json({"op": 0, "t": "READY", "s": next(self._seq), "d": ready})
        elif op == 6:  # RESUME
            self._sockets.add(ws)
            await ws.send_json({"op": 0, "t": "RESUMED", "s": next(self._seq), "d": {}})

    async def _send_all(self, payload: dict[str, Any]) -> None:
        for ws in list(self._sockets):
            await ws.send_json(payload)

    async def _close_all(self, code: int) -> None:
        for ws in list(self._sockets):
            self._sockets.discard(ws)
            await ws.close(code=code)

    # -- REST -----------------------------------------------------------------------

    def _static(self, body: dict[str, Any], *, auth: bool = True) -> Handler:
        async def handle(request: web.Request) -> web.Response:
            return (self._unauthorized(request) if auth else None) or _json(body)

        return handle

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bot {self.token}":
            return _error(401, 0, "401: Unauthorized")
        return None

    def _failure(self, request: web.Request) -> web.Response | None:
        """The refusal this send or edit gets, if any."""
        if (refused := self._unauthorized(request)) is not None:
            return refused
        if request.match_info["channel"] in self.gone:
            return _error(404, 10003, "Unknown Channel")
        if not self._failures:
            return None
        status, retry_after = self._failures.pop(0)
        if status != 429:
            return _error(status, 0, f"{status}: fake failure")
        body = {"message": "You are being rate limited.", "retry_after": retry_after}
        headers = {"Via": "1.1 google", "Retry-After": str(retry_after)}  # as Discord's edge
        return _json({**body, "global": False}, status=429, headers=headers)

    async def _post(self, request: web.Request) -> web.Response:
        if (refused := self._failure(request)) is not None:
            return refused
        channel, body = request.match_info["channel"], await request.json()
        reply_to = (body.get("message_reference") or {}).get("message_id")  # int or str
        message = self._message(channel, BOT, body.get("content") or "",
                                reply_to=None if reply_to is None else str(reply_to))  # fmt: skip
        message["components"] = body.get("components") or []
        self.sent.append({**body, "id": message["id"], "channel_id": channel})
        if self._held is not None:
            await self._held.wait()
        return _json(message)

    async def _patch(self, request: web.Request) -> web.Response:
        if (refused := self._failure(request)) is not None:
            return refused
        channel, mid = request.match_info["channel"], request.match_info["message"]
        message = self.messages.get(mid)
        if message is None or message["channel_id"] != channel:
            return _error(404, 10008, "Unknown Message")
        if message["author"]["id"] != BOT_ID:
            return _error(403, 50005, "Cannot edit a message authored by another user")
        body = await request.json()
        self.edits.append({**body, "id": mid, "channel_id": channel})
        message.update({k: body[k] for k in ("content", "components") if k in body})
        return _json(message)

    async def _callback(self, request: web.Request) -> web.Response:
        iid = request.match_info["id"]
        self.answers.append({"interaction": iid, **await request.json()})
        return _json({"interaction": {"id": iid, "type": 3}})

    async def _followup(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.answers.append({"followup": request.match_info["token"], **body})
        return _json(self._message("0", BOT, body.get("content") or ""))

    def _message(
        self, channel: str, author: dict[str, Any], content: str, reply_to: str | None = None
    ) -> dict[str, Any]:
        """A message object as Discord returns and dispatches it (and remembers it)."""
        message: dict[str, Any] = {
            "id": str(next(self._ids)), "channel_id": channel, "author": author,
            "content": content, "timestamp": datetime.now(UTC).isoformat(), "type": 0,
            "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
            "components": [],
        }  # fmt: skip
        if reply_to:
            reference = {"message_id": reply_to, "channel_id": channel}
            message.update(type=19, message_reference=reference)
            if reply_to in self.messages:
                message["referenced_message"] = self.messages[reply_to]
        self.messages[message["id"]] = message
        return message


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"message": message, "code": code}, status=status)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON as Discord sends it: discord.py parses a body only if its content type is
    exactly `application/json` (aiohttp's own helper adds a charset)."""
    headers = {**(headers or {}), "Content-Type": "application/json"}
    return web.Response(body=json.dumps(data).encode(), status=status, headers=headers)
