"""What the chat gateway keeps on the board: subscriptions with their delivery cursors,
the bot's messages about cards, strangers told once, and each platform's state.

A subscription's cursor is the id of the last event of its card (and, for a goal, of its
cards) that was handled for its chat. It moves only when the platform took the message
(`delivered`), in the same transaction that records the message; a send that fails is
retried later (`delivery_failed` counts it and says when), never skipped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from msgspec import Struct

from board import queries as q
from board.base import StoreBase, retried
from board.cards import Event
from board.clock import iso
from board.rows import one


class Subscription(Struct, frozen=True):
    """A chat told about a card (and a goal's cards)."""

    id: int
    platform: str
    chat: str
    card_id: int
    mode: str  # "all" milestones, or only the "result"
    cursor: int
    status_message: str | None
    failures: int
    last_error: str | None
    retry_at: str | None
    closed_at: str | None


class SentMessage(Struct, frozen=True):
    """A message the bot sent about a card."""

    card_id: int
    run_id: int | None
    purpose: str


class GatewayCommands(StoreBase):
    """Subscriptions, deliveries and the gateway's own records."""

    @retried
    def subscribe(
        self, platform: str, chat: str, card_id: int, now: datetime, mode: str = "all"
    ) -> bool:
        """Tell this chat about the card from now on; False if it already is."""
        params = {"platform": platform, "chat": chat, "card_id": card_id, "mode": mode}
        with self._db.write() as cx:
            self._status(cx, card_id)  # an unknown card is refused
            cursor = cx.execute(q.CARD_FIRST_EVENT, {"card_id": card_id}).fetchone()[0]
            inserted = cx.execute(q.SUBSCRIBE, {**params, "cursor": cursor, "now": iso(now)})
            return inserted.rowcount == 1

    def subscriptions_due(self, platform: str, now: datetime) -> list[Subscription]:
        """Open subscriptions of `platform` whose next delivery may happen now."""
        rows = self._db.cx.execute(q.SUBSCRIPTIONS_DUE, {"platform": platform, "now": iso(now)})
        return [one(Subscription, row) for row in rows]

    def subscriptions(self, platform: str | None = None) -> list[Subscription]:
        """Every subscription (of one platform), for status and tests."""
        sql = q.SUBSCRIPTIONS_ALL if platform is None else q.SUBSCRIPTIONS_OF
        return [one(Subscription, row) for row in self._db.cx.execute(sql, {"platform": platform})]

    @retried  # a log read that waited too long for writers (PostgreSQL) tries again
    def pending_events(self, sub: Subscription, limit: int = 200) -> list[Event]:
        """The events of the subscription's card and of its child cards after its cursor."""
        params = {"card_id": sub.card_id, "cursor": sub.cursor, "limit": limit}
        with self._db.read_log() as cx:  # never past an event still on its way
            return Event.from_cursor(cx.tuples(q.SUBSCRIPTION_EVENTS, params))

    @retried
    def delivered(
        self,
        sub_id: int,
        cursor: int,
        now: datetime,
        *,
        status_message: str | None = None,
        closed: bool = False,
        sent: tuple[str, str, int, int | None, str] | None = None,
    ) -> None:
        """The platform took the message for the event at `cursor` (or there was nothing
        to say): move the cursor, and record the message sent (chat, id, card, run,
        purpose) so that a reply to it finds its card."""
        with self._db.write() as cx:
            stamp = iso(self._now(cx, now))
            params = {
                "id": sub_id,
                "cursor": cursor,
                "status_message": status_message,
                "closed_at": stamp if closed else None,
            }
            self._apply(cx, self._sql.delivered, params, f"moving subscription {sub_id}'s cursor")
            if sent is not None:
                platform = cx.execute(q.SUBSCRIPTION_PLATFORM, {"id": sub_id}).fetchone()[0]
                self._remember(cx, platform, sent, stamp)

    @retried
    def delivery_failed(self, sub_id: int, error: str, retry_at: datetime) -> None:
        """A send failed: count it, keep the error, try again at `retry_at`."""
        with self._db.write() as cx:
            params = {"id": sub_id, "error": error[:1000], "retry_at": iso(retry_at)}
            self._apply(cx, q.DELIVERY_FAILED, params, f"recording subscription {sub_id}'s failure")

    @retried
    def remember_message(
        self,
        platform: str,
        chat: str,
        message: str,
        card_id: int,
        run_id: int | None,
        purpose: str,
        now: datetime,
    ) -> None:
        """Record a message the bot sent about a card outside a delivery (an ack)."""
        with self._db.write() as cx:
            self._remember(cx, platform, (chat, message, card_id, run_id, purpose), iso(now))

    def sent_message(self, platform: str, chat: str, message: str) -> SentMessage | None:
        """What a message of the bot was about (None: not one of ours, or unknown)."""
        params = {"platform": platform, "chat": chat, "message": message}
        row = self._db.cx.execute(q.SENT_MESSAGE, params).fetchone()
        return one(SentMessage, row) if row else None

    def request_message(
        self, platform: str, chat: str, card_id: int, run_id: int | None
    ) -> str | None:
        """The message that asked this chat for an answer for the card's run, if any."""
        params = {"platform": platform, "chat": chat, "card_id": card_id, "run_id": run_id}
        row = self._db.cx.execute(self._sql.request_message, params).fetchone()
        return str(row[0]) if row else None

    @retried
    def tell_stranger_once(self, platform: str, user: str, now: datetime) -> bool:
        """True the first time this user is told they are not allowed."""
        params = {"platform": platform, "user": user, "now": iso(now)}
        with self._db.write() as cx:
            return cx.execute(q.TELL_STRANGER, params).rowcount == 1

    @retried
    def gateway_beat(
        self,
        platform: str,
        now: datetime,
        *,
        host: str,
        pid: int,
        connected: bool,
        last_message_at: datetime | None = None,
        error: str | None = None,
    ) -> None:
        """A running gateway's word on one platform."""
        params = {
            "platform": platform,
            "host": host,
            "pid": pid,
            "connected": connected,
            "now": iso(now),
            "last_message_at": iso(last_message_at) if last_message_at else None,
            "error": error,
        }
        with self._db.write() as cx:
            cx.execute(q.GATEWAY_BEAT, params)

    def gateway_states(self) -> list[dict[str, Any]]:
        """What each platform's gateway last said, with its undelivered count."""
        rows = self._db.cx.execute(q.GATEWAY_STATES).fetchall()
        states = [dict(zip(row.keys(), row, strict=True)) for row in rows]
        for state in states:
            state["connected"] = bool(state["connected"])  # SQLite keeps 0 or 1
        return states

    def _remember(
        self,
        cx: Any,
        platform: str,
        sent: tuple[str, str, int, int | None, str],
        stamp: str,
    ) -> None:
        chat, message, card_id, run_id, purpose = sent
        params = {
            "platform": platform,
            "chat": chat,
            "message": message,
            "card_id": card_id,
            "run_id": run_id,
            "purpose": purpose,
            "now": stamp,
        }
        cx.execute(q.REMEMBER_MESSAGE, params)
