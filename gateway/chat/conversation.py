"""The conversation, once for every platform: what a message or a button press means.

- A direct message (or a mention, or a reply to the bot) from an allowed user becomes a
  card through the intake, keyed by the message (a redelivered message creates nothing),
  and the chat is subscribed to it; the answer is the card's id.
- `/goal`, `/status`, `/show`, `/cancel`, `/retry`, `/profile`, `/help` do what they say.
- A reply to one of the bot's messages about a card answers its question, or is a
  comment the agent reads on its next turn.
- A button acts through the board, fenced by the run it was made for; the allow list is
  checked on every press.
- Anyone else is answered once with their id and how to allow them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from board import Card, Store
from board.clock import utcnow
from board.gateway_ops import SentMessage
from gateway.chat import messages as say
from gateway.chat.platform import DeliveryError, Incoming, Outgoing, Platform, Press
from hermes.board_thread import BoardThread
from hermes.errors import HermesError


class Conversation:
    """The bot of one platform: turns messages and presses into board actions."""

    def __init__(
        self,
        platform: Platform,
        board: BoardThread,
        *,
        allow: list[str],
        profile: str = "default",
        repo: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.platform, self.board = platform, board
        self.allow = {str(user) for user in allow}
        self.profile, self.repo, self.clock = profile, repo, clock
        self.last_message_at: datetime | None = None

    @property
    def name(self) -> str:
        """The platform's name, as sources, keys and actors spell it."""
        return self.platform.name

    async def on_message(self, incoming: Incoming) -> None:
        """Someone wrote to the bot."""
        if not incoming.direct:
            return
        self.last_message_at = self.clock()
        if incoming.user not in self.allow:
            await self._stranger(incoming)
            return
        text = incoming.text.strip()
        try:
            if incoming.reply_to is not None and await self._on_reply(incoming, text):
                return
            if text.startswith("/"):
                await self._command(incoming, text)
            elif text:
                await self._new_card(incoming, text, self.profile)
        except DeliveryError:
            raise  # the platform could not take our answer: its adapter tries again
        except HermesError as exc:
            await self._say(incoming, _plain(exc))

    async def on_press(self, press: Press) -> str:
        """Someone pressed a button; the notice they see."""
        if press.user not in self.allow:
            return "you are not on this bot's allow list"
        parsed = say.parse_button(press.data)
        if parsed is None:
            return "this button is not one of mine"
        action, card_id, run_id = parsed
        kind, data = (
            ("approved", {}) if action == "approve" else ("rejected", {"reason": "rejected"})
        )
        actor = f"{self.name}:{press.user}"
        try:
            await self.board(
                lambda s: s.answer(card_id, self.clock(), kind, data, actor, run_id=run_id)
            )
        except HermesError as exc:
            return _plain(exc)
        return f"card {card_id}: {kind}"

    # -- messages -----------------------------------------------------------------------

    async def _new_card(self, incoming: Incoming, text: str, profile: str) -> None:
        from hermes.intake import CardRequest, add_card

        request = CardRequest(
            title=say.title_of(text),
            body=text,
            profile=profile,
            repo=Path(self.repo) if self.repo else None,
            no_repo=self.repo is None,
            source=f"{self.name}:{incoming.chat}",
            key=f"{self.name}:{incoming.chat}:{incoming.message}",
            cwd=Path.home(),
        )
        await self._created(incoming, lambda s: add_card(s, request, self.clock()))

    async def _created(
        self, incoming: Incoming, create: Callable[[Store], tuple[int, bool]]
    ) -> None:
        """Make the card, subscribe the chat, and answer with the card's id."""

        def made(store: Store) -> tuple[Card, bool]:
            card_id, created = create(store)
            store.subscribe(self.name, incoming.chat, card_id, self.clock())
            return store.card(card_id), created

        card, created = await self.board(made)
        sent = await self._say(incoming, say.ack(card, created))
        now = self.clock()
        await self.board(
            lambda s: s.remember_message(self.name, incoming.chat, sent, card.id, None, "ack", now)
        )

    async def _command(self, incoming: Incoming, text: str) -> None:
        word, _, rest = text.partition(" ")
        word = word.split("@", 1)[0].lower()  # /status@MyBot in group chats
        rest = rest.strip()
        if word == "/goal":
            await self._goal(incoming, rest)
        elif word == "/profile":
            name, _, body = rest.partition(" ")
            if not name or not body.strip():
                await self._say(incoming, "write /profile NAME and then what the card should do")
            else:
                await self._new_card(incoming, body.strip(), name)
        elif word == "/status":
            await self._say(incoming, await self.board(_status))
        elif word in ("/show", "/cancel", "/retry"):
            await self._on_card(incoming, word, rest)
        else:
            await self._say(incoming, say.HELP)

    async def _goal(self, incoming: Incoming, objective: str) -> None:
        from hermes.intake import CardRequest, add_card

        if not objective:
            await self._say(incoming, "write /goal and then the objective")
            return
        request = CardRequest(
            title=say.title_of(objective),
            body=objective,
            profile="planner",
            labels=["goal"],
            budget=20,
            repo=Path(self.repo) if self.repo else None,
            no_repo=self.repo is None,
            source=f"{self.name}:{incoming.chat}",
            key=f"{self.name}:{incoming.chat}:{incoming.message}",
            cwd=Path.home(),
        )
        await self._created(incoming, lambda s: add_card(s, request, self.clock()))

    async def _on_card(self, incoming: Incoming, word: str, rest: str) -> None:
        number = rest.lstrip("#")
        if not number.isdigit():
            await self._say(incoming, f"write {word} and a card's number, e.g. {word} 12")
            return
        card_id, actor = int(number), f"{self.name}:{incoming.user}"
        if word == "/show":
            text = await self.board(
                lambda s: say.card_text(s.detail(card_id), s.pending_requests().get(card_id))
            )
        elif word == "/cancel":
            await self.board(lambda s: s.cancel(card_id, self.clock(), actor))
            text = f"card {card_id} cancelled"
        else:
            status = await self.board(lambda s: s.retry(card_id, self.clock(), actor))
            text = f"card {card_id} will run again ({status})"
        await self._say(incoming, text)

    async def _on_reply(self, incoming: Incoming, text: str) -> bool:
        """A reply to one of the bot's messages: an answer or a comment. False when the
        replied-to message is not about a card (it is then read as a new message)."""
        assert incoming.reply_to is not None
        reply_to = incoming.reply_to
        sent = await self.board(lambda s: s.sent_message(self.name, incoming.chat, reply_to))
        if sent is None:
            return False
        actor = f"{self.name}:{incoming.user}"
        threaded = bool(getattr(self.platform, "threaded", False))
        answer = await self.board(lambda s: _answer_or_comment(s, sent, text, actor, threaded))
        await self._say(incoming, answer)
        return True

    async def _stranger(self, incoming: Incoming) -> None:
        now = self.clock()
        first = await self.board(lambda s: s.tell_stranger_once(self.name, incoming.user, now))
        if first:
            await self._say(incoming, say.stranger(self.name, incoming.user))

    async def _say(self, incoming: Incoming, text: str) -> str:
        return await self.platform.send(incoming.chat, Outgoing(text, reply_to=incoming.message))


def _answer_or_comment(
    store: Store, sent: SentMessage, text: str, actor: str, threaded: bool
) -> str:
    """What a reply about a card means: to its question, the answer (for the run that
    asked); to any other message about it, a comment its agent reads on its next turn.
    On a threaded platform every reply lands in the card's thread: while the card waits
    for an answer, a reply there is that answer."""
    card_id = sent.card_id
    card = store.card(card_id)
    if not text:
        return f"card {card_id}: an empty reply says nothing; write your answer"
    now = utcnow()
    pending = store.pending_requests().get(card_id) if threaded else None
    if sent.purpose == "question" or (pending and pending.get("kind") == "question"):
        run = sent.run_id if sent.purpose == "question" else None
        store.answer(card_id, now, "answered", {"answer": text}, actor, run_id=run)
        return f"card {card_id}: answered; it goes on"
    if card.status in ("done", "failed", "cancelled"):
        return f"card {card_id} is {card.status}; send a new message for new work"
    store.comment(card_id, text, now, actor)
    return f"card {card_id}: noted; it reads your comment on its next turn"


def _status(store: Store) -> str:
    stats: dict[str, Any] = store.stats(utcnow())
    from board import CardFilter

    live = store.list_cards(CardFilter(statuses=["running", "needs_input"]), utcnow())
    return say.board_status(stats["by_status"], live)


def _plain(exc: HermesError) -> str:
    """An error as a chat user reads it: the board's words, without command-line hints."""
    worded = getattr(exc, "worded", None)
    text = worded() if callable(worded) else str(exc)
    return str(text).split("; see `hermes", 1)[0]
