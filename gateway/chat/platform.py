"""What the conversation logic needs from a chat platform, and nothing more.

Each adapter (Telegram, Discord, Slack) turns its library's updates into `Incoming`
messages and `Press`es of buttons, hands them to the `Handler`, and sends or edits
`Outgoing` messages. Text is plain: each adapter escapes it for its platform (no
markdown surprises, no mass mentions). Everything else (which messages become cards,
who may do what, what to say) lives once, in `gateway.chat.conversation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hermes.errors import HermesError

#: The prefix of every button's data: a press that does not carry it is not ours.
BUTTON_PREFIX = "hermes:"


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message someone sent where the bot can see it."""

    chat: str  # the chat (or channel, or DM) to answer in
    user: str  # the sender's id on the platform, as the allow list names it
    message: str  # the message's own id (a card's idempotency key is made of it)
    text: str  # the text, without the mention of the bot
    direct: bool  # a direct message, a mention of the bot, or a reply to it
    reply_to: str | None = None  # the id of the bot's message this one replies to
    user_name: str = ""  # how the sender is called, for messages


@dataclass(frozen=True, slots=True)
class Press:
    """A button someone pressed; `data` is what the button was made with."""

    chat: str
    user: str
    message: str  # the id of the bot's message the button is on
    data: str


@dataclass(frozen=True, slots=True)
class Button:
    """A button under a message; `data` (at most 64 bytes) comes back in its `Press`."""

    label: str
    data: str


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to send (or the new content of one sent before)."""

    text: str
    buttons: tuple[Button, ...] = ()
    reply_to: str | None = None  # answer this message (a thread, a quote, a reply)


class DeliveryError(HermesError):
    """The platform did not take a message. `retry_after`: seconds it asked to wait
    (rate limits); `permanent`: trying again cannot help (a chat that is gone)."""

    exit_code = 1

    def __init__(
        self, message: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after, self.permanent = retry_after, permanent


class Handler(Protocol):
    """The conversation logic, as a platform sees it."""

    async def on_message(self, incoming: Incoming) -> None:
        """Someone wrote; answers go out through `Platform.send`."""
        ...

    async def on_press(self, press: Press) -> str:
        """Someone pressed a button; returns the short notice they see (a toast)."""
        ...


class Platform(Protocol):
    """One chat platform, connected with its own client library."""

    name: str  # "telegram", "discord", "slack"
    # A platform may set `threaded = True`: its replies go to a card's thread (Slack), so a
    # reply there while the card waits for an answer is that answer.

    @property
    def connected(self) -> bool:
        """Whether the platform's connection is up now (for `hermes gateway status`)."""
        ...

    async def run(self, handler: Handler) -> None:
        """Connect and hand every message and press to `handler` until cancelled;
        raise (HermesError) when the platform cannot be used (a refused token)."""
        ...

    async def send(self, chat: str, message: Outgoing) -> str:
        """Send `message` to `chat`; returns its id. Raises DeliveryError."""
        ...

    async def edit(self, chat: str, message_id: str, message: Outgoing) -> None:
        """Replace the text (and buttons) of a message sent before. Raises
        DeliveryError (permanent when the platform cannot edit it)."""
        ...
