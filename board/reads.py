"""Reading the board: one card, a filtered list, the statistics.

Reads run in one read transaction each, so a view never mixes two moments of the board.
Listing fetches the cards and all their dependency edges in two queries, whatever the
board's size, instead of two queries per card.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from board import queries as q
from board.base import StoreBase, retried
from board.cards import Card, CardDetail, CardFilter, Event, Run
from board.clock import iso, parse_iso, utcnow
from board.db import Connection
from board.rows import rows_of
from board.status import Status

RECENT = timedelta(days=1)


class Reads(StoreBase):
    """Views of the board for `show`, `list`, `stats` and the live `watch`."""

    def card(self, card_id: int) -> Card:
        """One card with its dependency edges, or NotFound."""
        with self._db.read() as cx:
            return self._card(cx, card_id)

    def detail(self, card_id: int) -> CardDetail:
        """A card with its runs and events, oldest first."""
        with self._db.read() as cx:
            card = self._card(cx, card_id)
            runs = rows_of(Run, cx.tuples(q.RUNS_OF, {"id": card_id}))
            events = Event.from_cursor(cx.tuples(q.EVENTS_OF, {"id": card_id}))
        return CardDetail(card, runs, events)

    def _card(self, cx: Connection, card_id: int) -> Card:
        self._status(cx, card_id)  # NotFound with a helpful message
        card = Card.from_row(cx.execute(q.CARD_BY_ID, {"id": card_id}).fetchone())
        card.depends_on = [d for (d,) in cx.execute(q.DEPENDS_ON, {"id": card_id})]
        card.dependents = [d for (d,) in cx.execute(q.DEPENDENTS, {"id": card_id})]
        card.blocked_by = self._blockers(cx, card_id)
        return card

    def list_cards(self, where: CardFilter, now: datetime) -> list[Card]:
        """The cards matching `where`, by id, each with its dependency edges."""
        sql_where, params = _where(where, now)
        with self._db.read() as cx:
            cards = Card.from_cursor(cx.tuples(q.LIST_CARDS.format(where=sql_where), params))
            edges = cx.tuples(q.LIST_EDGES.format(where=sql_where), params).fetchall()
        if where.label is not None:  # the SQL LIKE is a prefilter; this is the exact test
            cards = [card for card in cards if where.label in card.labels]
        by_id = {card.id: card for card in cards}
        for card_id, dep, dep_status in sorted(edges):
            if (card := by_id.get(card_id)) is not None:
                card.depends_on.append(dep)
                if dep_status != Status.DONE:
                    card.blocked_by.append(dep)
            if (dependency := by_id.get(dep)) is not None:
                dependency.dependents.append(card_id)  # edges are sorted: ids ascend
        return cards

    def children(self, card_id: int) -> list[Card]:
        """Cards created by this card (their `parent_id`), oldest first, with their edges."""
        return self.list_cards(CardFilter(parent_id=card_id, include_old=True), utcnow())

    def children_of_source(self, source: str) -> list[Card]:
        """Cards created by one intake (`cron:3`, `goal:7`, ...), oldest first."""
        return self.list_cards(CardFilter(source=source, include_old=True), utcnow())

    def stats(self, now: datetime) -> dict[str, Any]:
        """Counts per status and profile, the oldest ready card's age, runs, tokens, cost."""
        with self._db.read() as cx:
            counts = cx.execute(q.COUNT_BY_STATUS_PROFILE).fetchall()
            oldest_ready = cx.execute(q.OLDEST_READY, {"now": iso(now)}).fetchone()[0]
            run_rows = cx.execute(q.RUN_TOTALS).fetchall()
        by_status = {status.value: 0 for status in Status}
        by_profile: dict[str, dict[str, int]] = {}
        for status, profile, n in counts:
            by_status[status] += n
            by_profile.setdefault(profile, {})[status] = n
        return {
            "cards": sum(by_status.values()),
            "by_status": by_status,
            "by_profile": by_profile,
            "oldest_ready_age_seconds": (
                None
                if oldest_ready is None
                else round((now - parse_iso(oldest_ready)).total_seconds(), 3)
            ),
            "runs": _run_totals(run_rows),
        }

    @retried  # a log read that waited too long for writers (PostgreSQL) tries again
    def events_after(self, cursor: int, limit: int = 500) -> list[Event]:
        """The board's events after `cursor` (an event id), oldest first: the feed
        every live view and notifier follows."""
        with self._db.read_log() as cx:  # never past an event still on its way
            return Event.from_cursor(cx.tuples(q.EVENTS_AFTER, {"cursor": cursor, "limit": limit}))

    @retried
    def last_event_id(self) -> int:
        """The id of the newest event (0 on an empty board): where a new follower starts."""
        with self._db.read_log() as cx:
            return int(cx.execute(q.LAST_EVENT_ID).fetchone()[0])

    def pending_requests(self) -> dict[int, dict[str, Any]]:
        """Card id -> what it waits for (an approval or a question), for every card paused
        on a human: what lists and live views show beside the card."""
        rows = self._db.cx.execute(q.PENDING_REQUESTS).fetchall()
        return {card_id: request_of(json.loads(data)) for card_id, data in rows}

    def data_version(self) -> int:
        """Changes whenever another process commits to the board: `watch` polls this."""
        return self._db.data_version()


def request_of(data: dict[str, Any]) -> dict[str, Any]:
    """A `needs_input` event's data without its status change: the request itself."""
    return {k: v for k, v in data.items() if k not in ("from", "to")}


def _where(where: CardFilter, now: datetime) -> tuple[str, dict[str, Any]]:
    if where.archived:
        clauses = [q.WHERE_ARCHIVED]
    else:
        clauses = [q.WHERE_ALL if where.include_old else q.WHERE_RECENT]
    params: dict[str, Any] = {"cutoff": iso(now - RECENT)}
    if where.statuses:
        clauses.append(q.WHERE_STATUS.format(names=q.placeholders("s", len(where.statuses))))
        params.update(q.bind_list("s", where.statuses))
    if where.profile is not None:
        clauses.append(q.WHERE_PROFILE)
        params["profile"] = where.profile
    if where.parent_id is not None:
        clauses.append(q.WHERE_PARENT)
        params["parent_id"] = where.parent_id
    if where.source is not None:
        clauses.append(q.WHERE_SOURCE)
        params["source"] = where.source
    if where.label is not None:
        clauses.append(q.WHERE_LABEL)
        params["label_pattern"] = f"%{_like_escape(json.dumps(where.label, ensure_ascii=False))}%"
    return " AND ".join(clauses), params


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _run_totals(rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    """Fold (profile, outcome, n, tokens_in, tokens_out, cost) rows into per-profile totals."""
    profiles: dict[str, dict[str, Any]] = {}
    by_outcome: dict[str, int] = {}
    for profile, outcome, n, tokens_in, tokens_out, cost in rows:
        entry = profiles.setdefault(
            profile,
            {"runs": 0, "by_outcome": {}, "tokens_in": None, "tokens_out": None, "cost_usd": None},
        )
        entry["runs"] += n
        entry["by_outcome"][outcome] = n
        for key, value in (("tokens_in", tokens_in), ("tokens_out", tokens_out)):
            if value is not None:  # null until some run reports usage (agents do)
                entry[key] = (entry[key] or 0) + value
        if cost is not None:
            entry["cost_usd"] = round((entry["cost_usd"] or 0.0) + cost, 6)
        by_outcome[outcome] = by_outcome.get(outcome, 0) + n
    return {"total": sum(by_outcome.values()), "by_outcome": by_outcome, "by_profile": profiles}
