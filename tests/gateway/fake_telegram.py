"""A fake Telegram Bot API server on loopback, for tests and benchmarks.

It speaks enough of the Bot API over HTTP for python-telegram-bot to run a bot against
it: getMe, deleteWebhook, long-polled getUpdates (with `offset` confirming what the bot
has read, and 409 for an older poll when a newer one arrives), sendMessage (replies,
inline keyboards), editMessageText and answerCallbackQuery. Parameters may come as JSON,
form fields or multipart, as the real server takes them.

A test plays the users: `say` (privately, or in a group mentioning the bot, or replying
to one of the bot's messages) and `press` a button; it reads what the bot sent and
edited in `sent`, and can make the next sends fail (`fail`: 500s, or 429 with
`retry_after`) or hang (`stall`: taken, but answered only much later).

    with FakeTelegram() as tg:
        bot = Bot(tg.token, base_url=f"{tg.api_base}/bot")
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from aiohttp import web

BOT = {"id": 4242, "is_bot": True, "first_name": "Hermes", "username": "hermes_test_bot"}
JSON_FIELDS = ("reply_markup", "reply_parameters", "allowed_updates", "link_preview_options")
INT_FIELDS = ("chat_id", "message_id", "offset", "limit", "timeout", "reply_to_message_id")
Keyboard = list[tuple[str, str]]  # (label, callback data) of each button


@dataclass
class Sent:
    """A message the bot sent: its text and buttons as sent, then after each edit."""

    chat: int
    id: int
    reply_to: int | None
    texts: list[str]
    keyboards: list[Keyboard]
    params: dict[str, Any]  # what sendMessage carried
    at: float = field(default_factory=time.perf_counter)  # when it arrived

    @property
    def text(self) -> str:
        return self.texts[-1]

    @property
    def buttons(self) -> Keyboard:
        return self.keyboards[-1]


class FakeTelegram:
    """The Bot API of one bot (`token`), served from a thread of its own."""

    def __init__(self, token: str = "123456:fake-telegram-token") -> None:
        self.token = token
        self.sent: list[Sent] = []
        self.toasts: dict[str, str] = {}  # callback query id -> the bot's answer
        self.requests: list[tuple[str, dict[str, Any]]] = []  # (method, parameters)
        self.confirmed = 0  # the bot has read every update below this id
        self.said: dict[int, float] = {}  # message id -> when a user sent it
        self.history: list[dict[str, Any]] = []  # every update, read or not
        self._updates: list[dict[str, Any]] = []  # those the bot has not confirmed
        self._closing = False
        self._faults: list[tuple[int, int | None, float]] = []  # status, retry_after, stall
        self._ids, self._update_ids, self._queries = (itertools.count(n) for n in (1, 1, 1))
        self._lock = threading.Lock()
        self._poller = 0
        self._wake, self._stop = asyncio.Event(), asyncio.Event()  # used in the server thread
        self._loop: asyncio.AbstractEventLoop  # the server thread's, from __enter__

    # -- the users ------------------------------------------------------------------------

    def say(
        self, chat: int, user: int, text: str, *, mention: bool = False, reply_to: int | None = None
    ) -> int:
        """`user` writes `text` in `chat` (negative: a group); returns the message id."""
        message: dict[str, Any] = {"chat": _chat(chat), "from": _user(user), "text": text}
        if text.startswith("/"):  # Telegram marks a command (UTF-16 lengths; ASCII here)
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        elif mention:
            name = "@" + str(BOT["username"])
            message["text"] = f"{name} {text}"
            message["entities"] = [{"type": "mention", "offset": 0, "length": len(name)}]
        if reply_to is not None:
            message["reply_to_message"] = self._message(self._find(chat, reply_to))
        with self._lock:
            message |= {"message_id": next(self._ids), "date": int(time.time())}
            self.said[message["message_id"]] = time.perf_counter()
        self._push({"message": message})
        return int(message["message_id"])

    def again(self, message_id: int) -> None:
        """Deliver the update that carried a user's message once more (a new update id)."""
        with self._lock:
            old = next(
                u for u in self.history if u.get("message", {}).get("message_id") == message_id
            )
        self._push({"message": old["message"]})

    def press(self, message_id: int, user: int, label: str = "", data: str = "") -> str:
        """`user` presses the button `label` (or one carrying `data`) under one of the
        bot's messages; returns the callback query's id (its answer lands in `toasts`)."""
        sent = next(s for s in self.sent if s.id == message_id)
        data = data or dict(sent.buttons)[label]
        query_id = f"query-{next(self._queries)}"
        query = {"id": query_id, "from": _user(user), "chat_instance": "1", "data": data}
        self._push({"callback_query": query | {"message": self._message(sent)}})
        return query_id

    def fail(self, times: int = 1, status: int = 500, retry_after: int | None = None) -> None:
        """The next `times` sends and edits fail with `status` (429: with retry_after)."""
        with self._lock:
            self._faults += [(status, retry_after, 0.0)] * times

    def stall(self, times: int = 1, seconds: float = 60.0) -> None:
        """The next `times` sends are taken (the chat shows them) but answered after
        `seconds`: the bot cannot know they arrived."""
        with self._lock:
            self._faults += [(200, None, seconds)] * times

    def texts(self, chat: int) -> list[str]:
        """What `chat` shows now, oldest first."""
        return [s.text for s in self.sent if s.chat == chat]

    # -- the Bot API ----------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method, params = request.match_info["method"], await _params(request)
        self.requests.append((method, params))
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, "Not Found")
        result = await handler(params)
        if isinstance(result, web.Response):
            return result
        return web.json_response({"ok": True, "result": result})

    async def _m_getMe(self, _params: dict[str, Any]) -> Any:
        return BOT | {"can_join_groups": True, "can_read_all_group_messages": False}

    async def _m_deleteWebhook(self, _params: dict[str, Any]) -> Any:
        return True

    async def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        offset, limit = params.get("offset") or 0, params.get("limit") or 100
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self._lock:
            if offset:
                self.confirmed = max(self.confirmed, offset)
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self._poller += 1
            me = self._poller
        self._changed()  # an older poll learns it was replaced
        while True:
            wake = self._wake
            with self._lock:
                if self._poller != me:
                    return _error(409, "Conflict: terminated by other getUpdates request")
                ready = self._updates[:limit]
            left = deadline - time.monotonic()
            if ready or left <= 0 or self._closing:
                return ready
            try:
                await asyncio.wait_for(wake.wait(), left)
            except TimeoutError:
                pass

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        status, retry_after, stall = self._fault()
        if status != 200:
            return _error(status, HTTPStatus(status).phrase, retry_after)
        reply = (params.get("reply_parameters") or {}).get("message_id")
        reply = reply or params.get("reply_to_message_id")
        keyboard = _buttons(params.get("reply_markup"))
        with self._lock:
            sent = Sent(
                params["chat_id"], next(self._ids), reply, [params["text"]], [keyboard], params
            )
            self.sent.append(sent)
        await asyncio.sleep(stall)
        return self._message(sent)

    async def _m_editMessageText(self, params: dict[str, Any]) -> Any:
        status, retry_after, _stall = self._fault()
        if status != 200:
            return _error(status, HTTPStatus(status).phrase, retry_after)
        found = self._find(params["chat_id"], params["message_id"])
        if found is None:
            return _error(400, "Bad Request: message to edit not found")
        text, buttons = params["text"], _buttons(params.get("reply_markup"))
        if (text, buttons) == (found.text, found.buttons):
            return _error(400, "Bad Request: message is not modified")
        found.texts.append(text)
        found.keyboards.append(buttons)
        return self._message(found)

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        self.toasts[params["callback_query_id"]] = params.get("text", "")
        return True

    # -- state ----------------------------------------------------------------------------

    def _push(self, update: dict[str, Any]) -> None:
        with self._lock:
            update = {"update_id": next(self._update_ids), **update}
            self._updates.append(update)
            self.history.append(update)
        self._loop.call_soon_threadsafe(self._changed)

    def _changed(self) -> None:
        """Wake every waiting poll (they look again, then wait on a new event)."""
        self._wake.set()
        self._wake = asyncio.Event()

    def _fault(self) -> tuple[int, int | None, float]:
        with self._lock:
            return self._faults.pop(0) if self._faults else (200, None, 0.0)

    def _find(self, chat: int, message_id: int) -> Sent | None:
        return next((s for s in self.sent if s.chat == chat and s.id == message_id), None)

    def _message(self, sent: Sent | None) -> dict[str, Any]:
        if sent is None:  # a reply to something the bot did not send: no one we know
            return {"message_id": 0, "date": 0, "chat": _chat(0), "text": ""}
        message = {"message_id": sent.id, "date": 0, "chat": _chat(sent.chat), "from": BOT}
        message["text"] = sent.text
        if sent.buttons:
            keys = [{"text": label, "callback_data": data} for label, data in sent.buttons]
            message["reply_markup"] = {"inline_keyboard": [keys]}
        return message

    # -- the server -----------------------------------------------------------------------

    def __enter__(self) -> FakeTelegram:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.api_base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        ready = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._serve(sock, ready)), name="fake-telegram", daemon=True
        )
        self._thread.start()
        ready.wait(10)
        return self

    async def _serve(self, sock: socket.socket, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._api)
        app.router.add_get("/bot{token}/{method}", self._api)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        ready.set()
        await self._stop.wait()
        self._closing = True
        self._changed()
        await runner.cleanup()

    def __exit__(self, *_exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)


async def _params(request: web.Request) -> dict[str, Any]:
    """The request's parameters, typed as the Bot API documents them."""
    given: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        given |= await request.json()
    elif request.can_read_body:
        given |= {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    for key in JSON_FIELDS:
        if isinstance(given.get(key), str):
            given[key] = json.loads(given[key])
    for key in INT_FIELDS:
        if isinstance(given.get(key), str) and given[key].lstrip("-").isdigit():
            given[key] = int(given[key])
    return given


def _buttons(markup: dict[str, Any] | None) -> Keyboard:
    rows = (markup or {}).get("inline_keyboard") or []
    return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
        body["description"] = f"Too Many Requests: retry after {retry_after}"
    return web.json_response(body, status=status)


def _chat(chat: int) -> dict[str, Any]:
    if chat < 0:
        return {"id": chat, "type": "group", "title": "The team"}
    return {"id": chat, "type": "private", "first_name": "Alice"}


def _user(user: int) -> dict[str, Any]:
    return {"id": user, "is_bot": False, "first_name": f"User {user}"}
