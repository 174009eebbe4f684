"""The board's tables, declared with SQLModel: the single source of truth for the schema.

A fresh database is created from this metadata; an existing one is brought here by the
named migrations in `board.migrations`, and a test checks both give the same schema.
Importing SQLModel costs about half a second on a small machine, so only schema creation,
migrations and tests import this module: the store's queries are plain SQL over the same
tables (see `board.queries`).

Times are ISO 8601 UTC strings with microseconds (`2026-11-21T08:10:00.123456Z`): they
sort as text, compare in SQL without conversion, and are what the JSON output shows.
"""

from __future__ import annotations

from sqlalchemy import Index, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

# Claims must never scan the board: this partial index holds only ready cards, in claim
# order. The claim query repeats the literal `status = 'ready'` so SQLite can use it.
_READY = text("status = 'ready'")
_LIVE = text("outcome = 'running'")
# The dispatcher sleeps until the earliest scheduled start; this finds it in one step.
SCHEDULED = "status = 'ready' AND not_before IS NOT NULL"


class Card(SQLModel, table=True):
    """A unit of work; `run_id` is its current run, the fencing token for workers."""

    __tablename__ = "cards"
    __table_args__ = (
        Index(
            "ix_cards_ready",
            text("priority DESC"),
            "id",
            sqlite_where=_READY,
            postgresql_where=_READY,
        ),
        Index(
            "ix_cards_scheduled",
            "not_before",
            sqlite_where=text(SCHEDULED),
            postgresql_where=text(SCHEDULED),
        ),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(sa_type=Text)
    body: str = Field(default="", sa_type=Text)
    status: str = Field(sa_type=String(16))
    profile: str
    priority: int = 0
    labels: str = Field(default="[]", sa_type=Text)  # a JSON array of strings
    parent_id: int | None = Field(default=None, foreign_key="cards.id", index=True)
    source: str = "cli"
    key: str | None = Field(default=None, unique=True)
    not_before: str | None = None
    repo: str | None = Field(default=None, sa_type=Text)
    base: str | None = None
    branch: str | None = None
    worktree: str | None = Field(default=None, sa_type=Text)
    attempts: int = 0
    max_attempts: int = 3
    timeout: float | None = None
    result: str | None = Field(default=None, sa_type=Text)
    run_id: int | None = None
    created_at: str
    updated_at: str
    model: str | None = None  # overrides the profile's model for this card
    archived_at: str | None = None  # hidden from the board's views, kept in its history


class Dependency(SQLModel, table=True):
    """`card_id` may start only once `depends_on` is done."""

    __tablename__ = "dependencies"
    __table_args__ = (Index("ix_dependencies_depends_on", "depends_on"),)

    card_id: int = Field(foreign_key="cards.id", primary_key=True)
    depends_on: int = Field(foreign_key="cards.id", primary_key=True)


class Run(SQLModel, table=True):
    """One attempt at a card by one worker; its id is the attempt's fencing token."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_live", "lease_expires_at", sqlite_where=_LIVE, postgresql_where=_LIVE),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    card_id: int = Field(foreign_key="cards.id", index=True)
    attempt: int
    worker: str | None = None
    host: str | None = None
    pid: int | None = None
    started_at: str
    heartbeat_at: str
    lease_expires_at: str
    ended_at: str | None = None
    outcome: str = Field(default="running", sa_type=String(16))
    exit_code: int | None = None
    error: str | None = Field(default=None, sa_type=Text)
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None
    runner_pid: int | None = None  # the runner's process group, killed with the worker


class Event(SQLModel, table=True):
    """Something that happened to a card; the log every view and notifier reads."""

    __tablename__ = "events"

    id: int | None = Field(default=None, primary_key=True)
    card_id: int = Field(foreign_key="cards.id", index=True)
    run_id: int | None = None
    at: str
    kind: str
    actor: str
    data: str = Field(default="{}", sa_type=Text)  # a JSON object


class Dispatcher(SQLModel, table=True):
    """A dispatcher process sharing this board, for `hermes dispatcher status`."""

    __tablename__ = "dispatchers"

    id: str = Field(primary_key=True)
    host: str
    pid: int
    concurrency: int
    started_at: str
    heartbeat_at: str
    stopped_at: str | None = None
    lease: float | None = None  # seconds without a heartbeat before it counts as gone
    stop_requested_at: str | None = None  # `hermes dispatcher stop` asked it to stop


class Goal(SQLModel, table=True):
    """A card that is a goal: its planner-turn budget."""

    __tablename__ = "goals"

    card_id: int = Field(foreign_key="cards.id", primary_key=True)
    budget: int


class CronJob(SQLModel, table=True):
    """A schedule that creates a card on every fire."""

    __tablename__ = "cron_jobs"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, primary_key=True)
    schedule: str
    tz: str
    title: str = Field(sa_type=Text)
    body: str = Field(default="", sa_type=Text)
    profile: str
    repo: str | None = Field(default=None, sa_type=Text)
    base: str | None = None
    deliver: str | None = None
    overlap: str = "skip"
    paused: bool = False
    created_at: str
    next_fire_at: str | None = None
    last_fire_at: str | None = None
    last_card_id: int | None = None


class CronEvent(SQLModel, table=True):
    """Something that happened to a cron job (a fire skipped, paused, run by hand)."""

    __tablename__ = "cron_events"

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="cron_jobs.id", index=True)
    at: str
    kind: str
    data: str = Field(default="{}", sa_type=Text)


class SchemaMigration(SQLModel, table=True):
    """The named migrations applied to this database, in order."""

    __tablename__ = "schema_migrations"

    name: str = Field(primary_key=True)
    applied_at: str


class Subscription(SQLModel, table=True):
    """A chat told about a card (and, for a goal, its cards): what was delivered so far.

    `cursor` is the id of the last event of the card handled for this chat; it moves only
    after the platform took the message, so a crash re-sends rather than skips.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("platform", "chat", "card_id", name="uq_subscriptions_chat_card"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    chat: str
    card_id: int = Field(foreign_key="cards.id", index=True)
    mode: str = "all"  # "all": every milestone; "result": only how it ended (cron --deliver)
    cursor: int = 0
    status_message: str | None = None  # the message edited at each milestone
    failures: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    retry_at: str | None = None
    closed_at: str | None = None  # the card ended and its last message was delivered
    created_at: str


class ChatMessage(SQLModel, table=True):
    """A message the bot sent about a card: a reply to it is about that card."""

    __tablename__ = "chat_messages"

    platform: str = Field(primary_key=True)
    chat: str = Field(primary_key=True)
    message: str = Field(primary_key=True)
    card_id: int = Field(foreign_key="cards.id")
    run_id: int | None = None
    purpose: str  # "ack", "status", "question", "approval"
    created_at: str


class GatewayPeer(SQLModel, table=True):
    """Someone the bot answered once because they are not on the allow list."""

    __tablename__ = "gateway_strangers"

    platform: str = Field(primary_key=True)
    user: str = Field(primary_key=True)
    told_at: str


class GatewayState(SQLModel, table=True):
    """What a running gateway says of each platform, for `hermes gateway status`."""

    __tablename__ = "gateway_state"

    platform: str = Field(primary_key=True)
    host: str
    pid: int
    connected: bool = False
    heartbeat_at: str
    last_message_at: str | None = None
    last_error: str | None = Field(default=None, sa_type=Text)
