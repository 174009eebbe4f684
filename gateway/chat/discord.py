"""Discord, through discord.py (2.x), imported here and nowhere else in hermes.

The library keeps the gateway websocket (identify, heartbeats, resume, reconnects) and
REST with its rate-limit buckets. This module adds what hermes needs on top:

- `api_base`/`gateway_url` (a proxy, a fake server) are set on the library's class
  attributes for as long as `run()` runs, and restored after: it has no option for them.
- Text is escaped so nothing a card says pings anyone or turns into markup, and mentions
  are switched off per message (allowed_mentions none).
- Every button press is answered by `on_interaction` (a short ephemeral notice), never by
  a view kept in memory: buttons sent before a restart work the same way.
- Refusals become `DeliveryError`: 429 with its wait, 5xx and network trouble retryable,
  a channel or message that is gone (or not the bot's) permanent.
"""

from __future__ import annotations

import asyncio
import logging
import re
import warnings
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import aiohttp
import yarl

from gateway.chat.adapters import GatewayUnavailable
from gateway.chat.platform import Button, DeliveryError, Handler, Incoming, Outgoing, Press
from hermes.errors import HermesError

with warnings.catch_warnings():
    # discord.py imports the standard library's audioop for voice, which hermes never
    # uses; on Python 3.11 and 3.12 that import warns (and tests turn warnings into errors).
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    import discord.gateway
    import discord.http

log = logging.getLogger(__name__)

LIMIT = 2000  # characters in one Discord message
LABEL_LIMIT = 80  # characters on a button
SEND_TIMEOUT = 10.0  # seconds a send or edit may take (a hung connection gives up)
RATE_WAIT = 30.0  # the longest wait for a rate-limit bucket discord.py sits out itself
READY_WAIT = 10.0  # seconds a send waits for the login before giving up (retryable)
ANSWER_WITHIN = 2.0  # a press not answered by then is deferred (Discord allows 3 s)
LOGIN_BACKOFF = (1.0, 60.0)  # first and longest wait between failed logins

#: Set while a send or edit is under way (aiohttp runs its hooks in the same task).
_DELIVERING: ContextVar[bool] = ContextVar("hermes_discord_delivering", default=False)

# Markup that Discord renders and plain text must not: emphasis, code, spoilers, quotes,
# headings, lists, masked links, and `<...>` (mentions of users, roles and channels,
# timestamps, commands); `@` so @everyone and @here read as words.
_SPECIAL = re.compile(r"([\\*_~|`>#\-\[\]<@])")
_URL = re.compile(r"(https?://[^\s<>]+)")
_ORDERED = re.compile(r"^(\s*\d+)([.)])(?=\s)", re.MULTILINE)


def from_settings(section: Any, token: Callable[[str], str]) -> DiscordPlatform:
    """The adapter for a validated `gateway.discord` settings section."""
    return DiscordPlatform(
        token(section.token_env),
        token_env=section.token_env,
        api_base=section.api_base,
        gateway_url=section.gateway_url,
    )


def plain(text: str) -> str:
    """`text` as Discord shows it literally: markup and mentions escaped (links left
    whole, so they still open), cut to one message."""
    parts = _URL.split(text)
    escaped = "".join(p if i % 2 else _SPECIAL.sub(r"\\\1", p) for i, p in enumerate(parts))
    escaped = _ORDERED.sub(r"\1\\\2", escaped)
    if len(escaped) <= LIMIT:
        return escaped
    cut = escaped[: LIMIT - 1]
    if (len(cut) - len(cut.rstrip("\\"))) % 2:
        cut = cut[:-1]  # never leave half of an escape at the end
    return cut + "…"


class DiscordPlatform:
    """`gateway.chat.platform.Platform` for Discord."""

    name = "discord"

    def __init__(
        self,
        token: str,
        *,
        token_env: str = "DISCORD_BOT_TOKEN",
        api_base: str | None = None,
        gateway_url: str | None = None,
        send_timeout: float = SEND_TIMEOUT,
    ) -> None:
        self._token, self.token_env = token, token_env
        self.api_base, self.gateway_url, self.send_timeout = api_base, gateway_url, send_timeout
        self._client: _Client | None = None
        self._handler: Handler | None = None
        self._inbox: asyncio.Queue[Incoming] = asyncio.Queue()
        self._logged_in = asyncio.Event()
        self._up = False

    @property
    def connected(self) -> bool:
        """Whether the gateway websocket is identified (or resumed) right now."""
        return self._up

    async def run(self, handler: Handler) -> None:
        """Log in, connect, and hand messages to `handler` one at a time (in order)
        until cancelled. A refused token raises GatewayUnavailable naming its variable."""
        with _pointed_at(self.api_base, self.gateway_url):
            client = await self._login()
            self._client, self._handler = client, handler
            self._logged_in.set()
            try:
                await _first(self._connect(client), self._consume(handler))
            finally:
                self._logged_in.clear()
                self._client, self._handler, self._up = None, None, False
                await client.close()

    async def send(self, chat: str, message: Outgoing) -> str:
        """Post `message` in channel `chat`; its buttons carry their data as custom_id."""
        channel = (await self._ready()).get_partial_messageable(_snowflake(chat, "channel"))
        options: dict[str, Any] = {
            "allowed_mentions": discord.AllowedMentions.none(),
            "mention_author": False,
        }
        view = _view(message.buttons)
        if view is not None:
            options["view"] = view
        if message.reply_to is not None:
            options["reference"] = discord.MessageReference(
                message_id=_snowflake(message.reply_to, "message"),
                channel_id=channel.id,
                fail_if_not_exists=False,  # the replied-to message may be gone: send anyway
            )
        sent = await self._deliver(
            f"send to channel {chat}", channel.send(plain(message.text), **options)
        )
        return str(sent.id)

    async def edit(self, chat: str, message_id: str, message: Outgoing) -> None:
        """Replace the text and buttons of one of the bot's messages (no buttons: none)."""
        channel = (await self._ready()).get_partial_messageable(_snowflake(chat, "channel"))
        target = channel.get_partial_message(_snowflake(message_id, "message"))
        await self._deliver(
            f"edit message {message_id} in channel {chat}",
            target.edit(
                content=plain(message.text),
                view=_view(message.buttons),
                allowed_mentions=discord.AllowedMentions.none(),
            ),
        )

    # -- connection -----------------------------------------------------------------

    async def _login(self) -> _Client:
        """A logged-in client. Discord unreachable or failing: try again with backoff
        (a gateway started before the network is up waits for it); a refused token ends
        here, naming the variable to fix."""
        wait, longest = LOGIN_BACKOFF
        while True:
            client = _Client(self)
            try:
                await client.login(self._token)
            except BaseException as exc:
                await client.close()  # whatever happened: no session is left open
                if isinstance(exc, discord.LoginFailure):
                    raise self._refused() from None
                if isinstance(exc, discord.HTTPException) and exc.status < 500:
                    raise GatewayUnavailable(f"discord refused the login: {exc}") from None
                if not isinstance(
                    exc, discord.HTTPException | aiohttp.ClientError | OSError | TimeoutError
                ):
                    raise
                log.warning("discord: cannot log in (%s); trying again in %gs", exc, wait)
            else:
                return client
            await asyncio.sleep(wait)
            wait = min(wait * 2, longest)

    async def _connect(self, client: _Client) -> None:
        """The gateway websocket; discord.py reconnects by itself, so this ends only when
        Discord refuses the bot for good."""
        try:
            await client.connect(reconnect=True)
        except discord.PrivilegedIntentsRequired:
            raise GatewayUnavailable(
                "discord refused the message content intent: turn on Message Content Intent "
                "under Bot in the Discord developer portal (see docs/gateway.md)"
            ) from None
        except discord.ConnectionClosed as exc:
            if exc.code == 4004:
                raise self._refused() from None
            raise HermesError(f"discord closed the gateway connection (code {exc.code})") from None
        raise HermesError("the discord connection ended")

    def _refused(self) -> GatewayUnavailable:
        return GatewayUnavailable(
            f"discord refused the bot token in {self.token_env}: set it to the token under "
            "Bot in the Discord developer portal (see docs/gateway.md)"
        )

    async def _ready(self) -> discord.Client:
        """The logged-in client, waiting a little for `run()` to get there."""
        try:
            await asyncio.wait_for(self._logged_in.wait(), READY_WAIT)
        except TimeoutError:
            raise DeliveryError("not logged in to discord yet") from None
        assert self._client is not None
        return self._client

    # -- what comes in --------------------------------------------------------------

    async def _consume(self, handler: Handler) -> None:
        """Messages, in the order they came. A reply that could not be sent is logged,
        not fatal: the card (if any) exists, and the next message may get through."""
        while True:
            incoming = await self._inbox.get()
            try:
                await handler.on_message(incoming)
            except DeliveryError as exc:
                log.warning("discord: could not answer in channel %s: %s", incoming.chat, exc)

    def _heard(self, message: discord.Message) -> None:
        client = self._client
        if client is not None and client.user is not None:
            incoming = incoming_of(message, client.user.id)
            if incoming is not None:
                self._inbox.put_nowait(incoming)

    async def _pressed(self, interaction: discord.Interaction[Any]) -> None:
        """A button: answered at once with the handler's notice, or, if the board is slow,
        deferred before Discord's 3 s deadline and followed up."""
        press, handler = press_of(interaction), self._handler
        if press is None or handler is None:
            return
        answer = asyncio.ensure_future(handler.on_press(press))
        try:
            notice = await asyncio.wait_for(asyncio.shield(answer), ANSWER_WITHIN)
        except TimeoutError:
            await _quietly(interaction.response.defer(ephemeral=True, thinking=True))
            notice = await answer
            await _quietly(interaction.followup.send(plain(notice), ephemeral=True))
            return
        finally:
            answer.cancel()  # only if we are cancelled ourselves: it is done otherwise
        await _quietly(interaction.response.send_message(plain(notice), ephemeral=True))

    # -- what goes out --------------------------------------------------------------

    async def _deliver(self, what: str, request: Awaitable[discord.Message]) -> discord.Message:
        """Await one send or edit, with Discord's refusals as DeliveryError. A 429 or 5xx
        is not retried here (see `_refuse_now`): the notifier waits, and the chat's
        later messages wait behind it."""
        delivering = _DELIVERING.set(True)
        try:
            return await asyncio.wait_for(request, self.send_timeout)
        except _Refused as exc:
            raise DeliveryError(f"{what}: {exc}", retry_after=exc.retry_after) from None
        except discord.RateLimited as exc:
            raise DeliveryError(f"{what}: rate limited", retry_after=exc.retry_after) from None
        except discord.HTTPException as exc:
            text = f"{what}: {exc.status} {exc.text or exc.response.reason}"
            raise DeliveryError(text, permanent=exc.status < 500) from None  # gone, not ours
        except TimeoutError:
            raise DeliveryError(f"{what}: no answer within {self.send_timeout:g}s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(f"{what}: {exc}") from None
        finally:
            _DELIVERING.reset(delivering)


class _Client(discord.Client):
    """discord.py's client, telling the platform what it hears."""

    def __init__(self, platform: DiscordPlatform) -> None:
        intents = discord.Intents.none()
        intents.guilds = intents.guild_messages = intents.dm_messages = True
        intents.message_content = True  # privileged: switched on in the developer portal
        trace = aiohttp.TraceConfig()
        trace.on_request_end.append(_refuse_now)
        super().__init__(
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            http_trace=trace,
            max_ratelimit_timeout=RATE_WAIT,  # a longer wait for a bucket: RateLimited
            max_messages=None,  # no message cache: hermes keeps what it needs on the board
            chunk_guilds_at_startup=False,
            member_cache_flags=discord.MemberCacheFlags.none(),
        )
        self._platform = platform

    async def on_connect(self) -> None:
        self._platform._up = True

    on_resumed = on_connect

    async def on_disconnect(self) -> None:
        self._platform._up = False

    async def on_message(self, message: discord.Message) -> None:
        self._platform._heard(message)

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        await self._platform._pressed(interaction)


def incoming_of(message: discord.Message, me: int) -> Incoming | None:
    """A person's message as hermes reads it; None for bots (ourselves included) and for
    system messages (joins, pins)."""
    kinds = (discord.MessageType.default, discord.MessageType.reply)
    if message.author.bot or message.type not in kinds:
        return None
    reference = message.reference
    replied = reference.resolved if reference is not None else None
    to_me = isinstance(replied, discord.Message) and replied.author.id == me
    mentioned = any(user.id == me for user in message.mentions)
    dm = isinstance(message.channel, discord.DMChannel)
    reply_to = reference.message_id if reference is not None else None
    return Incoming(
        chat=str(message.channel.id),
        user=str(message.author.id),
        message=str(message.id),
        text=re.sub(rf"<@!?{me}>[ \t]*", "", message.content).strip(),
        direct=dm or mentioned or to_me,
        reply_to=str(reply_to) if reply_to is not None else None,
        user_name=message.author.display_name,
    )


def press_of(interaction: discord.Interaction[Any]) -> Press | None:
    """A button press as hermes reads it; None for any other interaction."""
    if interaction.type is not discord.InteractionType.component:
        return None
    data: dict[str, Any] = dict(interaction.data or {})
    custom_id, message = data.get("custom_id"), interaction.message
    if not isinstance(custom_id, str) or message is None or interaction.channel_id is None:
        return None
    return Press(
        chat=str(interaction.channel_id),
        user=str(interaction.user.id),
        message=str(message.id),
        data=custom_id,
    )


def _view(buttons: tuple[Button, ...]) -> discord.ui.View | None:
    """The buttons as a view, already stopped: a stopped view is sent but not kept by the
    library, so every press reaches `on_interaction` (before a restart and after)."""
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in buttons:  # grey buttons: no colour says which answer is expected
        view.add_item(discord.ui.Button(label=button.label[:LABEL_LIMIT], custom_id=button.data))
    view.stop()
    return view


class _Refused(Exception):
    """Discord answered a delivery with 429 or 5xx."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"{status} from discord" + (" (rate limited)" if status == 429 else ""))
        self.retry_after = retry_after


async def _refuse_now(_session: Any, _context: Any, params: aiohttp.TraceRequestEndParams) -> None:
    """aiohttp's hook on every response of the client. discord.py sleeps through a 429
    (up to 30 s) and retries a 5xx five times (25 s) inside one call, which would hold
    every chat's notifications; for a send or edit, the refusal is raised instead
    (aiohttp closes the response) and the notifier decides when to try again."""
    response = params.response
    if not _DELIVERING.get() or (response.status != 429 and response.status < 500):
        return
    retry_after = None
    if response.status == 429:
        try:
            body = await response.json(content_type=None)
            retry_after = float(body.get("retry_after") or response.headers["Retry-After"])
        except (ValueError, KeyError, TypeError, AttributeError, aiohttp.ClientError):
            retry_after = None
    raise _Refused(response.status, retry_after)


def _snowflake(value: str, kind: str) -> int:
    """A Discord id from the board's string; anything else can never be delivered."""
    if not value.isdigit():
        raise DeliveryError(f"{value!r} is not a discord {kind} id", permanent=True)
    return int(value)


async def _quietly(request: Awaitable[Any]) -> None:
    """Answer a press; an interaction that expired meanwhile is only logged."""
    try:
        await request
    except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
        log.warning("discord: could not answer a button press: %s", exc)


async def _first(*coroutines: Awaitable[None]) -> None:
    """Run side by side until one ends; its exception (or return) ends the others."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextmanager
def _pointed_at(api_base: str | None, gateway_url: str | None) -> Iterator[None]:
    """discord.py aimed at `api_base`/`gateway_url` (class attributes, restored after)."""
    route, socket = discord.http.Route, discord.gateway.DiscordWebSocket
    saved = route.BASE, socket.DEFAULT_GATEWAY
    if api_base:
        route.BASE = api_base.rstrip("/")
    if gateway_url:
        socket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    try:
        yield
    finally:
        route.BASE, socket.DEFAULT_GATEWAY = saved
