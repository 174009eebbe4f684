"""The board's records as Python values, and their JSON form (the contract's keys).

msgspec structs rather than ORM objects or dataclasses: `board list` turns every row of a
large board into one of these, so construction must cost microseconds, and every short
command defines them all (a dataclass costs about a millisecond to define: generating and
compiling its methods; the board's twenty took a third of the imports of `hermes board
add`).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from msgspec import Struct, field

from board.rows import one, rows_of


@lru_cache(maxsize=1024)
def _parsed_labels(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


def _labels(text: str) -> list[str]:
    """Decode a labels column; boards repeat the same few label sets, so memoise."""
    return list(_parsed_labels(text))


_LABELS = 6  # the place of `labels` among Card's fields


def _decode_card(values: list[Any]) -> None:
    """A card row's values (in field order) as Card holds them: labels decoded."""
    values[_LABELS] = _labels(values[_LABELS])


def _decode_event(values: list[Any]) -> None:
    """An event row's values (in field order) as Event holds them: data decoded."""
    values[3] = json.loads(values[3])


class Card(Struct):
    """A card row plus its dependency edges, as `show` and `list` present it."""

    id: int
    title: str
    body: str
    status: str
    profile: str
    priority: int
    labels: list[str]
    parent_id: int | None
    source: str
    key: str | None
    not_before: str | None
    repo: str | None
    base: str | None
    branch: str | None
    worktree: str | None
    attempts: int
    max_attempts: int
    timeout: float | None
    result: str | None
    created_at: str
    updated_at: str
    run_id: int | None
    model: str | None = None  # overrides the profile's model for this card
    archived_at: str | None = None
    depends_on: list[int] = field(default_factory=list)
    dependents: list[int] = field(default_factory=list)
    blocked_by: list[int] = field(default_factory=list)

    @classmethod
    def from_row(cls, row: Any) -> Card:
        """Build from a name-addressable row of the cards table (columns by name)."""
        return one(cls, row, _decode_card)

    @classmethod
    def from_cursor(cls, cursor: Any) -> list[Card]:
        """Every row of a tuple cursor over the cards table, mapped by column name."""
        return rows_of(cls, cursor, _decode_card)

    def to_json(self) -> dict[str, Any]:
        """The contract's card object: every key present, null where unknown."""
        return {
            "id": self.id,
            "title": self.title,
            "body": self.body,
            "status": self.status,
            "profile": self.profile,
            "priority": self.priority,
            "labels": self.labels,
            "depends_on": self.depends_on,
            "dependents": self.dependents,
            "blocked_by": self.blocked_by,
            "parent_id": self.parent_id,
            "source": self.source,
            "key": self.key,
            "not_before": self.not_before,
            "repo": self.repo,
            "base": self.base,
            "branch": self.branch,
            "worktree": self.worktree,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "timeout": self.timeout,
            "result": self.result,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "model": self.model,
            "archived_at": self.archived_at,
        }


class Run(Struct):
    """One attempt at a card; `outcome` is `running` while its worker holds the lease."""

    id: int
    card_id: int
    attempt: int
    worker: str | None
    host: str | None
    pid: int | None
    started_at: str
    heartbeat_at: str
    lease_expires_at: str
    ended_at: str | None
    outcome: str
    exit_code: int | None
    error: str | None
    tokens_in: int | None
    tokens_out: int | None
    cost_usd: float | None
    runner_pid: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The contract's run object (plus `lease_expires_at` and `runner_pid`)."""
        return {
            "id": self.id,
            "attempt": self.attempt,
            "worker": self.worker,
            "host": self.host,
            "pid": self.pid,
            "started_at": self.started_at,
            "heartbeat_at": self.heartbeat_at,
            "lease_expires_at": self.lease_expires_at,
            "ended_at": self.ended_at,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "error": self.error,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost_usd": self.cost_usd,
            "runner_pid": self.runner_pid,
        }


class LiveRun(Struct):
    """A run whose worker holds the lease, with what the dispatcher needs to know of it."""

    run: Run
    status: str
    profile: str
    title: str


class DispatcherInfo(Struct):
    """A dispatcher registered on the board (`stopped_at` is None while it runs)."""

    id: str
    host: str
    pid: int
    concurrency: int
    started_at: str
    heartbeat_at: str
    stopped_at: str | None

    def to_json(self) -> dict[str, Any]:
        """Every field, as `dispatcher status --json` shows it."""
        return {
            "id": self.id,
            "host": self.host,
            "pid": self.pid,
            "concurrency": self.concurrency,
            "started_at": self.started_at,
            "heartbeat_at": self.heartbeat_at,
            "stopped_at": self.stopped_at,
        }


class Event(Struct):
    """Something that happened to a card; status changes carry `from` and `to` in data."""

    at: str
    kind: str
    actor: str
    data: dict[str, Any]
    run_id: int | None = None
    id: int | None = None  # its place in the board's event log (the feed's cursor)
    card_id: int | None = None

    @classmethod
    def from_row(cls, row: Any) -> Event:
        """From a name-addressable row with `at, kind, actor, data, run_id` and maybe
        `id, card_id` (data is JSON)."""
        return one(cls, row, _decode_event)

    @classmethod
    def from_cursor(cls, cursor: Any) -> list[Event]:
        """Every row of a tuple cursor over the events table, mapped by column name."""
        return rows_of(cls, cursor, _decode_event)

    def to_feed_json(self) -> dict[str, Any]:
        """The event as the feed gives it: its id and card, then the contract's keys."""
        return {"id": self.id, "card_id": self.card_id, **self.to_json()}

    def to_json(self) -> dict[str, Any]:
        """The contract's event object."""
        return {"at": self.at, "kind": self.kind, "actor": self.actor, "data": self.data}


class CardDetail(Struct):
    """A card with its runs and events, oldest first: what `board show` displays."""

    card: Card
    runs: list[Run]
    events: list[Event]

    def to_json(self) -> dict[str, Any]:
        """The card object plus `runs` and `events`."""
        out = self.card.to_json()
        out["runs"] = [run.to_json() for run in self.runs]
        out["events"] = [event.to_json() for event in self.events]
        return out


class Claim(Struct, frozen=True):
    """A card claimed for a worker: the run id is the fencing token for every later write."""

    run_id: int
    card_id: int
    attempt: int
    lease_expires_at: str


#: Bounds on what a card may ask for; beyond them a value is a typo, not a wish.
PRIORITY_LIMIT = 1_000_000_000
MAX_ATTEMPTS_LIMIT = 1_000
MAX_CONCURRENCY = 1_000  # workers of a dispatcher, or of a profile across the board
YEAR_SECONDS = 366 * 24 * 3600  # a (leap) year: the longest timeout or cron interval
MAX_TIMEOUT = float(YEAR_SECONDS)
#: A title, label or key is a line of a table, not a document.
MAX_LINE_CHARS = 10_000
#: A body or comment: instructions, not data (bytes of UTF-8). Larger inputs belong in a
#: file the card names; `board show` of a card must stay instant.
MAX_TEXT_BYTES = 1024 * 1024


class NewCard(Struct):
    """Everything needed to create a card, already resolved (profile defaults, repo, base)."""

    title: str
    profile: str
    max_attempts: int
    body: str = ""
    priority: int = 0
    labels: list[str] = field(default_factory=list)
    after: list[int] = field(default_factory=list)
    parent_id: int | None = None
    source: str = "cli"
    key: str | None = None
    not_before: str | None = None
    repo: str | None = None
    base: str | None = None
    timeout: float | None = None
    backlog: bool = False
    budget: int | None = None  # a goal's planner-turn budget (None: not a goal)
    model: str | None = None  # overrides the profile's model (agent profiles)


class CardFilter(Struct):
    """Which cards `list` shows; `include_old` keeps finished cards older than a day."""

    statuses: list[str] = field(default_factory=list)
    profile: str | None = None
    label: str | None = None
    include_old: bool = False
    parent_id: int | None = None
    source: str | None = None
    archived: bool = False  # only archived cards (they are left out otherwise)


class Usage(Struct):
    """Tokens and cost an agent run spent; None where unknown (e.g. command runs)."""

    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None
