"""A chat platform kept in memory, for testing the conversation and the notifier on a
real board without a network: it records what the bot sends and can refuse sends."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

from gateway.chat.platform import DeliveryError, Handler, Incoming, Outgoing, Press


@dataclass
class Sent:
    """A message the bot sent (or its latest edit)."""

    chat: str
    id: str
    message: Outgoing
    edits: list[Outgoing] = field(default_factory=list)

    @property
    def text(self) -> str:
        return (self.edits[-1] if self.edits else self.message).text


class MemoryPlatform:
    """Implements `gateway.chat.platform.Platform` in memory."""

    def __init__(self, name: str = "memchat") -> None:
        self.name = name
        self.sent: list[Sent] = []
        self.inbox: asyncio.Queue[Incoming | Press] = asyncio.Queue()
        self.toasts: list[str] = []
        self.refuse: list[DeliveryError] = []  # the next sends fail with these, in order
        self._ids = itertools.count(1000)
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected

    async def run(self, handler: Handler) -> None:
        self._connected = True
        try:
            while True:
                item = await self.inbox.get()
                if isinstance(item, Press):
                    self.toasts.append(await handler.on_press(item))
                else:
                    await handler.on_message(item)
        finally:
            self._connected = False

    async def send(self, chat: str, message: Outgoing) -> str:
        if self.refuse:
            raise self.refuse.pop(0)
        sent = Sent(chat, str(next(self._ids)), message)
        self.sent.append(sent)
        return sent.id

    async def edit(self, chat: str, message_id: str, message: Outgoing) -> None:
        if self.refuse:
            raise self.refuse.pop(0)
        found = next(s for s in self.sent if s.id == message_id and s.chat == chat)
        found.edits.append(message)

    def texts(self, chat: str) -> list[str]:
        """What the chat shows now, oldest first."""
        return [s.text for s in self.sent if s.chat == chat]
