"""Telling chats what happened to their cards, so that nothing is lost.

For each chat, the events of its subscribed cards (and a goal's cards) after each
subscription's cursor are delivered in event order: a card started (its status message,
edited at later milestones), needs someone (a question to reply to, or an approval with
buttons), was answered (the request message loses its buttons), ended (result or error,
tokens and cost). The cursor moves only once the platform took the message, in the same
transaction that records the message, so a crash or restart re-sends rather than
skips. A send that fails is retried with backoff (or as the platform asks), and the chat
waits for it: later messages never overtake it. The notifier wakes on the board's change
signal, so a message goes out tens of milliseconds after its event commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from itertools import groupby

from board import Event, Store
from board.changes import board_changes
from board.clock import utcnow
from board.gateway_ops import Subscription
from gateway.chat import messages as say
from gateway.chat.platform import DeliveryError, Outgoing, Platform
from hermes.board_thread import BoardThread

#: Longest wait between tries of a failing send, and the first one.
BACKOFF_CAP = 300.0
BACKOFF_FIRST = 1.0
IDLE_CHECK = 5.0  # seconds: look for due retries at least this often
PERMANENT_RETRY = 3600.0  # a chat that refuses for good is still tried, hourly
END_KINDS = ("completed", "cancelled", "failed")


@dataclass(frozen=True, slots=True)
class Step:
    """What to do for one event: send a new message, edit one, or nothing."""

    kind: str  # "send", "edit" or "none"
    message: Outgoing | None = None
    edit_id: str | None = None  # the message to edit
    purpose: str = "status"  # what a sent message is, for replies to it
    run_id: int | None = None
    closes: bool = False  # the subscribed card ended: nothing more to tell


class Notifier:
    """Delivers one platform's notifications."""

    def __init__(
        self,
        platform: Platform,
        board: BoardThread,
        db_url: str,
        *,
        clock: Callable[[], datetime] = utcnow,
        report: Callable[[str], None] = lambda _line: None,
    ) -> None:
        self.platform, self.board, self.db_url = platform, board, db_url
        self.clock, self.report = clock, report

    async def run(self) -> None:
        """Deliver now, then each time the board changes (or a retry comes due)."""
        changes = board_changes(self.db_url)
        waiting: asyncio.Future[None] | None = None
        try:
            while True:
                await self.deliver_due()
                # One pending wait at a time, never cancelled by the timeout: cancelling a
                # generator's `anext` closes the generator for good.
                waiting = waiting or asyncio.ensure_future(anext(changes))
                done, _ = await asyncio.wait({waiting}, timeout=IDLE_CHECK)
                if waiting in done:
                    waiting.result()
                    waiting = None
        finally:
            if waiting is not None:  # let the wait end before the generator is closed:
                waiting.cancel()  # closing it while its `anext` runs is an error
                await asyncio.gather(waiting, return_exceptions=True)
            await changes.aclose()

    async def deliver_due(self) -> None:
        """Everything due for every chat of this platform, in order per chat."""
        name, now = self.platform.name, self.clock()
        subs = await self.board(lambda s: s.subscriptions_due(name, now))
        for chat, group in groupby(sorted(subs, key=lambda sub: sub.chat), key=lambda s: s.chat):
            await self._deliver_chat(chat, list(group))

    async def _deliver_chat(self, chat: str, subs: list[Subscription]) -> None:
        pending = await self.board(lambda s: [(sub, s.pending_events(sub)) for sub in subs])
        pairs = sorted(
            ((event, sub) for sub, events in pending for event in events),
            key=lambda pair: pair[0].id or 0,
        )
        status = {sub.id: sub.status_message for sub in subs}
        for event, sub in pairs:
            step = await self.board(partial(plan, sub=sub, event=event, status=status[sub.id]))
            try:
                sent = await self._perform(chat, step)
            except DeliveryError as exc:
                await self._failed(sub, exc)
                return  # the chat waits: later messages must not overtake this one
            if step.kind == "send" and step.purpose == "status" and sent is not None:
                status[sub.id] = sent
            await self._delivered(sub, event, step, sent, status[sub.id])

    async def _perform(self, chat: str, step: Step) -> str | None:
        if step.kind == "none" or step.message is None:
            return None
        if step.kind == "edit" and step.edit_id is not None:
            try:
                await self.platform.edit(chat, step.edit_id, step.message)
                return None
            except DeliveryError as exc:
                if not exc.permanent:
                    raise
        return await self.platform.send(chat, step.message)  # a new message instead

    async def _delivered(
        self, sub: Subscription, event: Event, step: Step, sent: str | None, status: str | None
    ) -> None:
        assert event.id is not None and event.card_id is not None
        cursor, card_id, now = event.id, event.card_id, self.clock()
        record = (sub.chat, sent, card_id, step.run_id, step.purpose) if sent else None
        await self.board(
            lambda s: s.delivered(
                sub.id, cursor, now, status_message=status, closed=step.closes, sent=record
            )
        )

    async def _failed(self, sub: Subscription, exc: DeliveryError) -> None:
        """Try again later: as the platform asks, with backoff, or (a chat that is gone,
        a bot that was blocked) hourly, counted in `gateway status` meanwhile."""
        wait = exc.retry_after or min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** min(sub.failures, 16))
        if exc.permanent:
            wait = PERMANENT_RETRY
        retry_at = self.clock() + timedelta(seconds=wait)
        self.report(
            f"{self.platform.name}: could not send to {sub.chat} ({exc}); trying again in {wait:g}s"
        )
        await self.board(lambda s: s.delivery_failed(sub.id, str(exc), retry_at))


def plan(store: Store, *, sub: Subscription, event: Event, status: str | None) -> Step:
    """What the chat is told about `event` (run on the board's thread)."""
    assert event.card_id is not None
    own = event.card_id == sub.card_id
    if sub.mode == "result":
        if own and event.kind in END_KINDS and _final(event):
            return Step(
                "send", Outgoing(say.ended(store.detail(event.card_id), event)), closes=True
            )
        return Step("none")
    card = store.card(event.card_id)
    if event.kind == "started":
        text = say.status_line(card, "running" + _attempt(event))
        return _status(text, status)
    if event.kind == "needs_input":
        purpose = "question" if event.data.get("kind") == "question" else "approval"
        message = _replying(say.request(card, event.data, event.run_id), status)
        return Step("send", message, purpose=purpose, run_id=event.run_id)
    if event.kind in ("approved", "rejected", "answered"):
        asked = store.request_message(sub.platform, sub.chat, card.id, event.run_id)
        if asked is None:
            return Step("none")
        return Step("edit", Outgoing(say.answered(card, event)), edit_id=asked)
    if event.kind in END_KINDS and _final(event):
        text = say.ended(store.detail(card.id), event)
        return Step("send", _replying(Outgoing(text), status), purpose="end", closes=own)
    if event.kind == "failed":
        return _status(say.status_line(card, "failed once and will try again"), status)
    if event.kind == "planned":
        added = len(event.data.get("added") or [])
        return _status(say.status_line(card, f"planned {added} cards and waits for them"), status)
    return Step("none")


def _final(event: Event) -> bool:
    """Whether an ending event ends the card (not an attempt that will be retried)."""
    return event.kind != "failed" or event.data.get("to") == "failed"


def _attempt(event: Event) -> str:
    attempt = event.data.get("attempt")
    return f" (attempt {attempt})" if isinstance(attempt, int) and attempt > 1 else ""


def _status(text: str, status: str | None) -> Step:
    """The card's status message: edited if it exists, else sent."""
    if status is None:
        return Step("send", Outgoing(text), purpose="status")
    return Step("edit", Outgoing(text), edit_id=status, purpose="status")


def _replying(message: Outgoing, status: str | None) -> Outgoing:
    return Outgoing(message.text, message.buttons, reply_to=status)
