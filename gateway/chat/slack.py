"""Slack, over slack-bolt in Socket Mode: no public URL, one websocket the bot opens.

The bot token (`xoxb-`) makes every Web API call (`auth.test`, `chat.postMessage`,
`chat.update`, `chat.postEphemeral`); the app-level token (`xapp-`) opens the Socket Mode
connection (`apps.connections.open`). Both go to `api_base` when it is set, so tests and
proxies can stand in for slack.com.

- Direct messages (`message.im`) and mentions (`app_mention`) become `Incoming`s; a
  message in a thread under one of the bot's messages is a reply to it.
- Text goes out as plain text with `&`, `<` and `>` escaped, so nothing a card says can
  mention @here, a channel or a user, or turn into a link or markup.
- Buttons are Block Kit buttons whose `value` is the button's data; a press
  (`block_actions`) comes back as a `Press`, and its notice is shown to the presser only
  (an ephemeral message).
- Slack threads are one level deep: a reply to a message that is itself in a thread goes
  to that thread, and a person's message in a thread answers the bot's latest open
  message there (a question or approval until it is edited as answered), else its root.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from gateway.chat.adapters import GatewayUnavailable
from gateway.chat.platform import DeliveryError, Handler, Incoming, Outgoing, Press

LOG = logging.getLogger(__name__)


class _Unused(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns that it goes unused beside our
    client; it is meant to (our client carries the token from `bot_token_env`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


BOLT = LOG.getChild("bolt")  # slack-bolt's and slack-sdk's own log lines
BOLT.addFilter(_Unused())

#: Errors that mean Slack will not take this token, whatever we retry.
REFUSED = frozenset(
    "invalid_auth not_authed account_inactive token_revoked token_expired "
    "not_allowed_token_type missing_scope".split()
)
#: Errors that mean this chat or message cannot take the send or edit, ever.
GONE = frozenset(
    "channel_not_found is_archived not_in_channel message_not_found cant_update_message "
    "edit_window_closed user_not_found invalid_blocks msg_too_long restricted_action".split()
)
SECTION_CAP = 3000  # characters of one section block's text (escaped)
SECTION_LIMIT = 40  # section blocks per message (Slack allows 50 blocks)
LABEL_CAP = 75  # characters of a button's label
ACTION_ID = re.compile(r"^hermes-\d+$")
REMEMBERED = 10_000  # thread facts kept in memory (oldest forgotten first)
BACKOFF_CAP = 60.0
_ANGLED = re.compile(r"<([^<>]*)>")


def escape(text: str) -> str:
    """`text` as Slack shows it literally: its three control characters as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str, bot_user: str) -> str:
    """A person's Slack text as they typed it: the bot's mention removed, links and
    mentions as their labels, entities decoded."""

    def plain(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target == f"@{bot_user}":
            return ""
        kind = target[:1]
        if label:
            return f"{kind}{label}" if kind in "#@" and not label.startswith(kind) else label
        return "@" + target[1:].split("^", 1)[0] if kind == "!" else target

    text = _ANGLED.sub(plain, text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return text.strip()


def render(message: Outgoing) -> tuple[str, list[dict[str, Any]]]:
    """The `text` (for notifications) and Block Kit `blocks` of a message: its text as
    plain-text sections, then its buttons, each carrying its data as `value`."""
    text = message.text or " "
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "plain_text", "text": piece, "emoji": False}}
        for piece in _pieces(text)
    ]
    if message.buttons:
        elements = [
            {
                "type": "button",
                "action_id": f"hermes-{index}",
                "text": {"type": "plain_text", "text": button.label[:LABEL_CAP], "emoji": False},
                "value": button.data,
            }
            for index, button in enumerate(message.buttons)
        ]
        blocks.append({"type": "actions", "block_id": "hermes-buttons", "elements": elements})
    return escape(text), blocks


def _pieces(text: str) -> list[str]:
    """`text` escaped and cut into section-sized pieces (never inside an entity)."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for char in text:
        escaped = escape(char)
        if size + len(escaped) > SECTION_CAP:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(escaped)
        size += len(escaped)
    pieces.append("".join(current))
    return pieces[:SECTION_LIMIT]


def delivery_error(what: str, exc: SlackApiError) -> DeliveryError:
    """A refused Web API call as the notifier reads it: rate limits say how long to wait,
    server errors may be retried, a gone chat or an uneditable message is permanent."""
    response = exc.response
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    data = getattr(response, "data", None)
    code = str(data.get("error") or "") if isinstance(data, dict) else ""
    said = code or f"HTTP {status}"
    if status == 429 or code == "ratelimited":
        headers = getattr(response, "headers", None) or {}
        wait = _seconds(headers.get("Retry-After") or headers.get("retry-after"))
        return DeliveryError(f"slack {what}: rate limited ({said})", retry_after=wait)
    return DeliveryError(f"slack {what}: {said}", permanent=code in GONE)


def _seconds(value: object) -> float:
    try:
        return max(0.0, float(str(value)))
    except ValueError:
        return 1.0


def _refusal_code(exc: SlackApiError) -> str | None:
    data = getattr(exc.response, "data", None)
    code = data.get("error") if isinstance(data, dict) else None
    return str(code) if code in REFUSED else None


class Threads:
    """What Slack's one-level threads mean for hermes' replies, remembered in memory.

    A message the bot sends in reply to a message inside a thread goes to that thread's
    root. A person's message in a thread answers the latest bot message there that was
    not itself an answer to a person in the thread, and has not been edited since (an
    answered question or approval is edited); with none, it answers the thread's root.
    After a restart nothing is remembered and a thread reply answers the root."""

    def __init__(self) -> None:
        self._root: dict[str, str] = {}  # message ts -> its thread's root ts
        self._open: dict[str, list[str]] = {}  # root ts -> bot messages replies answer
        self._chatter: dict[str, None] = {}  # people's messages inside threads

    def root(self, ts: str | None) -> str | None:
        """The `thread_ts` that puts a reply to `ts` in the right thread."""
        return None if ts is None else self._root.get(ts, ts)

    def inside(self, ts: str) -> str | None:
        """The root of the thread `ts` is in, if it is in one we know of."""
        return self._root.get(ts)

    def sent(self, ts: str, reply_to: str | None) -> None:
        """The bot sent `ts` (in reply to `reply_to`)."""
        root = self.root(reply_to)
        if root is None:
            return
        self._root[ts] = root
        if reply_to not in self._chatter:
            self._open.setdefault(root, []).append(ts)
        _forget(self._root, self._open)

    def heard(self, ts: str, thread_ts: str | None) -> str | None:
        """A person wrote `ts` (in thread `thread_ts`): the message it replies to."""
        if thread_ts is None or thread_ts == ts:
            return None
        self._root[ts] = thread_ts
        self._chatter[ts] = None
        _forget(self._root, self._chatter)
        opened = self._open.get(thread_ts)
        return opened[-1] if opened else thread_ts

    def answers_bot(self, thread_ts: str | None) -> bool:
        """Whether the bot has an open message in thread `thread_ts`."""
        return thread_ts is not None and bool(self._open.get(thread_ts))

    def edited(self, ts: str) -> None:
        """The bot edited `ts`: answered, so replies in its thread no longer go to it."""
        root = self._root.get(ts)
        opened = self._open.get(root) if root is not None else None
        if opened and ts in opened:
            opened.remove(ts)


def _forget(*tables: dict[str, Any]) -> None:
    """Keep each table to the newest REMEMBERED entries (dicts keep insertion order)."""
    for table in tables:
        for key in list(table)[: max(0, len(table) - REMEMBERED)]:
            del table[key]


class SlackPlatform:
    """Implements `gateway.chat.platform.Platform` over slack-bolt in Socket Mode."""

    name = "slack"
    threaded = True  # replies are thread messages: see `Conversation` for what that means

    def __init__(
        self,
        *,
        bot_token: str,
        app_token: str,
        api_base: str | None = None,
        bot_token_env: str = "SLACK_BOT_TOKEN",
        app_token_env: str = "SLACK_APP_TOKEN",
    ) -> None:
        base = (api_base or "https://slack.com/api/").rstrip("/") + "/"
        self.web = AsyncWebClient(token=bot_token, base_url=base)
        self.app_token = app_token
        self.envs = {"bot": bot_token_env, "app": app_token_env}
        self.bot_user = ""
        self.threads = Threads()
        self._inbox: asyncio.Queue[Incoming | Press] = asyncio.Queue()
        self._socket: AsyncSocketModeHandler | None = None

    @property
    def connected(self) -> bool:
        """Whether the Socket Mode websocket is up now."""
        socket = self._socket
        if socket is None:
            return False
        client, session = socket.client, socket.client.current_session
        return not (client.closed or client.stale or session is None or session.closed)

    async def run(self, handler: Handler) -> None:
        """Check both tokens, connect the websocket and hand every message and press to
        `handler`, one at a time: bolt runs each listener as a task of its own, so its
        listeners only queue what came and this loop hands it over in turn."""
        identity = await self._patiently("bot", self.web.auth_test)
        self.bot_user = str(identity.get("user_id") or "")
        opened = await self._patiently(
            "app", lambda: self.web.apps_connections_open(app_token=self.app_token)
        )
        socket = self._socket = self._handler(str(opened["url"]))
        try:
            await _connect(socket)
            while True:
                await self._deliver(handler, await self._inbox.get())
        finally:
            self._socket = None
            await _close(socket)

    async def send(self, chat: str, message: Outgoing) -> str:
        """Post `message` (in the thread of the message it replies to)."""
        text, blocks = render(message)
        response = await self._call(
            "chat.postMessage",
            self.web.chat_postMessage(
                channel=chat,
                text=text,
                blocks=blocks,
                thread_ts=self.threads.root(message.reply_to),
                mrkdwn=False,
                link_names=False,
                parse="none",
                unfurl_links=False,
                unfurl_media=False,
            ),
        )
        ts = str(response["ts"])
        self.threads.sent(ts, message.reply_to)
        return ts

    async def edit(self, chat: str, message_id: str, message: Outgoing) -> None:
        """Replace a message's text and buttons (no buttons: the old ones go)."""
        text, blocks = render(message)
        await self._call(
            "chat.update",
            self.web.chat_update(
                channel=chat, ts=message_id, text=text, blocks=blocks, link_names=False,
                parse="none",
            ),
        )  # fmt: skip
        self.threads.edited(message_id)

    # -- connection ---------------------------------------------------------------------

    async def _patiently(
        self, which: str, call: Callable[[], Awaitable[AsyncSlackResponse]]
    ) -> AsyncSlackResponse:
        """A start-up call, retried while Slack is unreachable or failing; a refused
        token ends it at once with the variable to fix."""
        wait = 1.0
        while True:
            try:
                return await call()
            except SlackApiError as exc:
                code = _refusal_code(exc)
                if code is not None:
                    raise self._refused(which, code) from exc
                reason = str(exc)
            except (aiohttp.ClientError, TimeoutError) as exc:
                reason = f"cannot reach Slack ({exc})"
            LOG.warning("slack: %s; trying again in %gs", reason, wait)
            await asyncio.sleep(wait)
            wait = min(BACKOFF_CAP, wait * 2)

    def _refused(self, which: str, code: str) -> GatewayUnavailable:
        variable = self.envs[which]
        wanted = (
            "the app's Bot User OAuth Token (xoxb-...)"
            if which == "bot"
            else "an app-level token (xapp-...) with the connections:write scope"
        )
        return GatewayUnavailable(
            f"Slack refused the {which} token in {variable} ({code}): set {variable} to "
            f"{wanted} (see docs/gateway.md)"
        )

    def _handler(self, url: str) -> AsyncSocketModeHandler:
        """The bolt app and its Socket Mode handler, on the URL we just opened."""
        app = AsyncApp(client=self.web, logger=BOLT, name="hermes")
        app.event("message")(self._on_event)
        app.event("app_mention")(self._on_event)
        app.action(ACTION_ID)(self._on_action)
        socket = AsyncSocketModeHandler(app, self.app_token, logger=BOLT, web_client=self.web)
        socket.client.wss_uri = url
        return socket

    async def _deliver(self, handler: Handler, item: Incoming | Press) -> None:
        """One message or press; a reply Slack would not take is logged, not fatal
        (the card was made: its chat hears about it from the notifier)."""
        try:
            if isinstance(item, Press):
                await self._toast(item, await handler.on_press(item))
            else:
                await handler.on_message(item)
        except DeliveryError as exc:
            LOG.warning("slack: could not answer in %s: %s", item.chat, exc)

    async def _toast(self, press: Press, notice: str) -> None:
        """Show a press's notice to the presser only, beside the message they pressed."""
        await self._call(
            "chat.postEphemeral",
            self.web.chat_postEphemeral(
                channel=press.chat, user=press.user, text=escape(notice),
                thread_ts=self.threads.inside(press.message), link_names=False, parse="none",
            ),
        )  # fmt: skip

    async def _call(self, what: str, call: Awaitable[AsyncSlackResponse]) -> AsyncSlackResponse:
        """A Web API call whose failure is a DeliveryError."""
        try:
            return await call
        except SlackApiError as exc:
            raise delivery_error(what, exc) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(f"slack {what}: cannot reach Slack ({exc})") from exc

    # -- what Slack sends -----------------------------------------------------------------

    async def _on_event(self, event: dict[str, Any]) -> None:
        """A `message` or `app_mention` event (bolt has acknowledged it already)."""
        incoming = self._incoming(event)
        if incoming is not None:
            self._inbox.put_nowait(incoming)

    async def _on_action(self, ack: Callable[[], Awaitable[Any]], body: dict[str, Any]) -> None:
        """A button press: acknowledged at once, handled in turn."""
        await ack()
        press = press_of(body)
        if press is not None:
            self._inbox.put_nowait(press)

    def _incoming(self, event: dict[str, Any]) -> Incoming | None:
        """An event as an `Incoming`, or None for what is not a person's new message
        (edits, joins, bots) or what the other event type brings too."""
        user, chat, ts = event.get("user"), event.get("channel"), event.get("ts")
        if not (user and chat and ts) or event.get("bot_id") or _changed(event):
            return None
        text = str(event.get("text") or "")
        im = event.get("channel_type") == "im"
        mention = event.get("type") == "app_mention"
        if mention and str(chat).startswith("D"):
            return None  # a mention in a DM also comes as message.im
        if not (mention or im) and f"<@{self.bot_user}" in text:
            return None  # comes as app_mention too
        thread = event.get("thread_ts")
        to_bot = event.get("parent_user_id") == self.bot_user or self.threads.answers_bot(thread)
        reply_to = self.threads.heard(str(ts), thread)
        return Incoming(
            chat=str(chat),
            user=str(user),
            message=str(ts),
            text=unescape(text, self.bot_user),
            direct=im or mention or (reply_to is not None and to_bot),
            reply_to=reply_to,
            user_name=_name(event),
        )


def _changed(event: dict[str, Any]) -> bool:
    """Whether a message event is about something other than a new message."""
    return event.get("subtype") not in (None, "thread_broadcast", "file_share")


def _name(event: dict[str, Any]) -> str:
    profile = event.get("user_profile") or {}
    return str(profile.get("display_name") or profile.get("real_name") or "")


def press_of(body: dict[str, Any]) -> Press | None:
    """A `block_actions` payload as a `Press` (None if it is not a button press)."""
    actions = body.get("actions") or []
    container = body.get("container") or {}
    chat = container.get("channel_id") or (body.get("channel") or {}).get("id")
    message = container.get("message_ts") or (body.get("message") or {}).get("ts")
    user = (body.get("user") or {}).get("id")
    if not (actions and chat and message and user) or "value" not in actions[0]:
        return None
    return Press(chat=str(chat), user=str(user), message=str(message), data=actions[0]["value"])


async def _connect(socket: AsyncSocketModeHandler) -> None:
    """The library's connect (it has no type hints)."""
    await socket.connect_async()  # type: ignore[no-untyped-call]


async def _close(socket: AsyncSocketModeHandler) -> None:
    """The library's close (it has no type hints)."""
    await socket.close_async()  # type: ignore[no-untyped-call]


def from_settings(section: Any, token: Callable[[str], str]) -> SlackPlatform:
    """The adapter for the `gateway.slack` settings, its tokens read by `token`."""
    return SlackPlatform(
        bot_token=token(section.bot_token_env),
        app_token=token(section.app_token_env),
        api_base=section.api_base,
        bot_token_env=section.bot_token_env,
        app_token_env=section.app_token_env,
    )
