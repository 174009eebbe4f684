"""Telegram, through python-telegram-bot's `Bot` over long polling.

Updates are fetched with `getUpdates` and each is handed to the conversation before the
next poll confirms it (the poll's `offset`), so a crash re-reads an update rather than
losing it; a redelivered message creates nothing, since its card is keyed by the message.
A send that the platform refuses while answering an update leaves that update
unconfirmed, to be handled again once the platform takes messages.

Text goes out plain (no parse mode, no link previews) with every `@name` defused, so a
card's words can neither format the message nor mention anyone. Telegram's errors become
`DeliveryError`s: flood control carries its `retry_after`, a chat or message that is gone
is permanent, anything else (5xx, timeouts) is worth another try.

`python-telegram-bot` is imported only here (the `gateway` extra).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import warnings
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from gateway.chat.platform import Button, DeliveryError, Handler, Incoming, Outgoing, Press
from hermes.errors import HermesError

T = TypeVar("T")

# Durations as timedeltas, the library's next behaviour (read when used): without this
# opt-in its own RetryAfter warns that ints are deprecated whenever Telegram says wait.
os.environ.setdefault("PTB_TIMEDELTA", "true")

API_BASE = "https://api.telegram.org"
POLL_SECONDS = 25  # how long one getUpdates waits for news
TEXT_CAP = 4096  # Telegram's longest message, in UTF-16 code units
TOAST_CAP = 200  # the longest answer to a button press
BACKOFF_FIRST, BACKOFF_CAP = 1.0, 30.0  # between polls that failed
UPDATES = ("message", "callback_query")
#: `@` before a name: followed by a word joiner, it is no longer a mention.
MENTION = re.compile(r"(?<!\w)@(?=\w)")  # not in an e-mail address
WORD_JOINER = "\u2060"

log = logging.getLogger("hermes.gateway.telegram")
# httpx logs each request's URL at INFO, and a Bot API URL holds the token.
logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))


class TokenRefused(HermesError):
    """Telegram does not know the bot's token."""


def from_settings(section: Any, token: Callable[[str], str]) -> TelegramPlatform:
    """The adapter for a validated `gateway.telegram` section; `token` reads the
    variable it names."""
    return TelegramPlatform(
        token(section.token_env), token_env=section.token_env, api_base=section.api_base
    )


class TelegramPlatform:
    """Implements `gateway.chat.platform.Platform` for one Telegram bot."""

    name = "telegram"

    def __init__(
        self,
        token: str,
        *,
        token_env: str = "TELEGRAM_BOT_TOKEN",
        api_base: str | None = None,
        poll_seconds: int = POLL_SECONDS,
    ) -> None:
        base = (api_base or API_BASE).rstrip("/")
        self._bot = Bot(token, base_url=f"{base}/bot")
        self._token, self._token_env, self._poll_seconds = token, token_env, poll_seconds
        self._started = asyncio.Lock()
        self._connected = False

    @property
    def connected(self) -> bool:
        """True while polls succeed."""
        return self._connected

    # -- receiving ------------------------------------------------------------------------

    async def run(self, handler: Handler) -> None:
        """Poll for updates and hand each to `handler` until cancelled. Only a refused
        token ends it: an unreachable Telegram is waited for."""
        try:
            await self._connect()
            await self._poll_forever(handler)
        except InvalidToken:
            raise self._refused() from None
        finally:
            self._connected = False
            await self._bot.shutdown()

    async def _connect(self) -> None:
        """getMe (checks the token) and deleteWebhook (getUpdates refuses to run while a
        webhook is set), tried until Telegram answers."""
        failures = 0
        while True:
            try:
                await self._start()
                await self._bot.delete_webhook()
                self._connected = True
                return
            except InvalidToken:
                raise
            except TelegramError as exc:
                failures += 1
                await self._pause(exc, failures, "connecting to Telegram")

    async def _poll_forever(self, handler: Handler) -> None:
        offset: int | None = None  # None: every update Telegram still holds for us
        failures = 0
        while True:
            try:
                updates = await self._bot.get_updates(
                    offset=offset, timeout=self._poll_seconds, allowed_updates=UPDATES
                )
                self._connected = True
            except InvalidToken:
                raise
            except TelegramError as exc:
                self._connected, failures = False, failures + 1
                await self._pause(exc, failures, "polling Telegram")
                continue
            try:
                for update in updates:
                    await self._handle(update, handler)
                    offset = update.update_id + 1  # confirmed by the next poll
                failures = 0
            except DeliveryError as exc:  # the rest is read again by the next poll
                failures += 1
                await self._pause(exc, failures, "answering a message")

    async def _pause(self, exc: Exception, failures: int, doing: str) -> None:
        """Wait before trying again: as long as Telegram asked, or a growing backoff."""
        asked = exc.retry_after if isinstance(exc, DeliveryError) else _retry_after(exc)
        wait = asked or min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** min(failures - 1, 8))
        log.warning("telegram: %s failed (%s); trying again in %gs", doing, self._clean(exc), wait)
        await asyncio.sleep(wait)

    async def _handle(self, update: Update, handler: Handler) -> None:
        """One update; a permanent failure to answer it is logged and the update dropped
        (trying again cannot help), a passing one raised so the update is read again."""
        try:
            if update.callback_query is not None:
                await self._press(update.callback_query, handler)
            elif update.message is not None:
                incoming = self._incoming(update.message)
                if incoming is not None:
                    await handler.on_message(incoming)
        except DeliveryError as exc:
            if not exc.permanent:
                raise
            log.warning("telegram: dropped update %s: %s", update.update_id, exc)

    async def _press(self, query: CallbackQuery, handler: Handler) -> None:
        message = query.message
        if message is None or query.data is None:
            toast = "this button is not one of mine"
        else:
            press = Press(
                chat=str(message.chat.id),
                user=str(query.from_user.id),
                message=str(message.message_id),
                data=query.data,
            )
            toast = await handler.on_press(press)
        try:
            await self._bot.answer_callback_query(query.id, text=toast[:TOAST_CAP])
        except TelegramError as exc:  # the press was handled; only its notice is lost
            log.warning("telegram: could not answer a button press: %s", self._clean(exc))

    def _incoming(self, message: Message) -> Incoming | None:
        """The message as the conversation reads it; None for what is not a person's
        text (pictures without a caption, other bots, channel posts)."""
        text = message.text if message.text is not None else message.caption
        user = message.from_user
        if text is None or user is None or user.is_bot:
            return None
        entities = message.entities or message.caption_entities
        mentions = [e for e in entities if self._names_me(e, text)]
        replied = message.reply_to_message
        reply_to = str(replied.message_id) if replied and self._is_me(replied) else None
        direct = (
            message.chat.type == ChatType.PRIVATE
            or bool(mentions)
            or reply_to is not None
            or any(self._commands_me(e, text) for e in entities)
        )
        return Incoming(
            chat=str(message.chat.id),
            user=str(user.id),
            message=str(message.message_id),
            text=_without(text, mentions).strip(),
            direct=direct,
            reply_to=reply_to,
            user_name=user.full_name,
        )

    def _is_me(self, message: Message) -> bool:
        return message.from_user is not None and message.from_user.id == self._bot.id

    def _names_me(self, entity: MessageEntity, text: str) -> bool:
        """An `@botname` mention, or a mention of the bot by its user (no username)."""
        if entity.type == MessageEntity.TEXT_MENTION:
            return entity.user is not None and entity.user.id == self._bot.id
        return (
            entity.type == MessageEntity.MENTION
            and _part(text, entity).casefold() == ("@" + self._bot.username).casefold()
        )

    def _commands_me(self, entity: MessageEntity, text: str) -> bool:
        """`/status@botname`, a command addressed to this bot in a group."""
        if entity.type != MessageEntity.BOT_COMMAND:
            return False
        return _part(text, entity).casefold().endswith("@" + self._bot.username.casefold())

    # -- sending --------------------------------------------------------------------------

    async def send(self, chat: str, message: Outgoing) -> str:
        """Send `message` as plain text; its buttons as an inline keyboard."""
        reply = None
        if message.reply_to is not None and message.reply_to.isdigit():
            reply = ReplyParameters(int(message.reply_to), allow_sending_without_reply=True)
        sent = await self._call(
            "send a message",
            lambda: self._bot.send_message(
                chat,
                plain(message.text),
                reply_markup=_keyboard(message.buttons) if message.buttons else None,
                reply_parameters=reply,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            ),
        )
        return str(sent.message_id)

    async def edit(self, chat: str, message_id: str, message: Outgoing) -> None:
        """Replace a message's text and buttons (an empty keyboard removes them)."""
        if not message_id.isdigit():
            raise DeliveryError(f"{message_id!r} is not a Telegram message id", permanent=True)
        try:
            await self._call(
                "edit a message",
                lambda: self._bot.edit_message_text(
                    plain(message.text),
                    chat_id=chat,
                    message_id=int(message_id),
                    reply_markup=_keyboard(message.buttons),
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                ),
            )
        except _Unchanged:
            pass  # it already says this (an edit delivered again after a restart)

    async def _call(self, what: str, request: Callable[[], Awaitable[T]]) -> T:
        """One Bot API request, its failure as a DeliveryError."""
        try:
            await self._start()
            return await request()
        except BadRequest as exc:
            if "not modified" in exc.message:
                raise _Unchanged from None
            raise self._failure(what, exc) from None
        except TelegramError as exc:
            raise self._failure(what, exc) from None

    def _failure(self, what: str, exc: TelegramError) -> DeliveryError:
        text = f"telegram refused to {what}: {self._clean(exc)}"
        if isinstance(exc, RetryAfter):
            return DeliveryError(text, retry_after=_retry_after(exc))
        permanent = isinstance(exc, BadRequest | Forbidden | ChatMigrated | InvalidToken)
        return DeliveryError(text, permanent=permanent)

    # -- the connection -------------------------------------------------------------------

    async def _start(self) -> None:
        """Open the client and learn who the bot is (getMe), once; it checks the token."""
        async with self._started:
            await self._bot.initialize()

    def _refused(self) -> TokenRefused:
        return TokenRefused(
            f"Telegram refused the bot token in {self._token_env}: copy the token @BotFather "
            f"gave the bot into {self._token_env} (see docs/gateway.md)"
        )

    def _clean(self, exc: BaseException) -> str:
        """An error's words without the token (the library puts it in some of them)."""
        return str(exc).replace(self._token, "<token>") or type(exc).__name__


class _Unchanged(Exception):
    """Telegram's 'message is not modified': the edit is already there."""


def plain(text: str) -> str:
    """Text that Telegram shows as it is: every `@name` defused, cut to fit."""
    text = MENTION.sub("@" + WORD_JOINER, text)
    if _units(text) <= TEXT_CAP:
        return text
    return _cut_units(text, 0, TEXT_CAP - 1) + "…"


def _keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup:
    """One row of buttons whose presses come back with their data."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in buttons]] if buttons else []
    )


def _retry_after(exc: Exception) -> float | None:
    """Seconds Telegram asked to wait (flood control), else None."""
    if not isinstance(exc, RetryAfter):
        return None
    with warnings.catch_warnings():  # an int today, a timedelta in the next major version
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


# Telegram counts entity offsets in UTF-16 code units, not in Python characters.


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _cut_units(text: str, start: int, end: int) -> str:
    data = text.encode("utf-16-le")[start * 2 : end * 2]
    return data.decode("utf-16-le", errors="ignore")


def _part(text: str, entity: MessageEntity) -> str:
    return _cut_units(text, entity.offset, entity.offset + entity.length)


def _without(text: str, entities: Sequence[MessageEntity]) -> str:
    """`text` with the spans of `entities` taken out (the bot's mentions)."""
    for entity in sorted(entities, key=lambda e: e.offset, reverse=True):
        head = _cut_units(text, 0, entity.offset)
        tail = _cut_units(text, entity.offset + entity.length, _units(text))
        text = head + tail
    return text
