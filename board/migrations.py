"""Named schema migrations, recorded in the `schema_migrations` table.

A fresh board is created straight from the SQLModel metadata (`board.schema`) and marked
with every migration name; an older board runs the migrations it has not seen, in order,
inside one write transaction so two processes never migrate at once. A migration is a
frozen copy of the change it made and never imports `board.schema`, whose tables keep
evolving; a test checks that migrating an empty database gives the fresh schema.

Checking that a board is current costs one query and imports nothing heavy: SQLAlchemy is
loaded only to compile DDL when a migration actually runs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from board.clock import iso
from hermes.errors import StorageError

if TYPE_CHECKING:
    from sqlalchemy import MetaData

    from board.db import Database


class Migration(NamedTuple):
    """A named schema change: the statements that make it, for a given SQL dialect."""

    name: str
    statements: Callable[[str], list[str]]


def _initial() -> MetaData:
    """0001: cards, dependencies, runs, events and the migrations table, as first shipped."""
    from sqlalchemy import (
        Column,
        Float,
        ForeignKey,
        Index,
        Integer,
        MetaData,
        String,
        Table,
        Text,
        text,
    )

    md = MetaData()
    ready, live = text("status = 'ready'"), text("outcome = 'running'")
    Table(
        "cards",
        md,
        Column("id", Integer, primary_key=True),
        Column("title", Text, nullable=False),
        Column("body", Text, nullable=False),
        Column("status", String(16), nullable=False),
        Column("profile", String, nullable=False),
        Column("priority", Integer, nullable=False),
        Column("labels", Text, nullable=False),
        Column("parent_id", Integer, ForeignKey("cards.id"), index=True),
        Column("source", String, nullable=False),
        Column("key", String, unique=True),
        Column("not_before", String),
        Column("repo", Text),
        Column("base", String),
        Column("branch", String),
        Column("worktree", Text),
        Column("attempts", Integer, nullable=False),
        Column("max_attempts", Integer, nullable=False),
        Column("timeout", Float),
        Column("result", Text),
        Column("run_id", Integer),
        Column("created_at", String, nullable=False),
        Column("updated_at", String, nullable=False),
        Index(
            "ix_cards_ready",
            text("priority DESC"),
            "id",
            sqlite_where=ready,
            postgresql_where=ready,
        ),
        sqlite_autoincrement=True,
    )
    Table(
        "dependencies",
        md,
        Column("card_id", Integer, ForeignKey("cards.id"), primary_key=True),
        Column("depends_on", Integer, ForeignKey("cards.id"), primary_key=True),
        Index("ix_dependencies_depends_on", "depends_on"),
    )
    Table(
        "runs",
        md,
        Column("id", Integer, primary_key=True),
        Column("card_id", Integer, ForeignKey("cards.id"), nullable=False, index=True),
        Column("attempt", Integer, nullable=False),
        Column("worker", String),
        Column("host", String),
        Column("pid", Integer),
        Column("started_at", String, nullable=False),
        Column("heartbeat_at", String, nullable=False),
        Column("lease_expires_at", String, nullable=False),
        Column("ended_at", String),
        Column("outcome", String(16), nullable=False),
        Column("exit_code", Integer),
        Column("error", Text),
        Column("tokens_in", Integer),
        Column("tokens_out", Integer),
        Column("cost_usd", Float),
        Index("ix_runs_live", "lease_expires_at", sqlite_where=live, postgresql_where=live),
        sqlite_autoincrement=True,
    )
    Table(
        "events",
        md,
        Column("id", Integer, primary_key=True),
        Column("card_id", Integer, ForeignKey("cards.id"), nullable=False, index=True),
        Column("run_id", Integer),
        Column("at", String, nullable=False),
        Column("kind", String, nullable=False),
        Column("actor", String, nullable=False),
        Column("data", Text, nullable=False),
    )
    Table(
        "schema_migrations",
        md,
        Column("name", String, primary_key=True),
        Column("applied_at", String, nullable=False),
    )
    return md


def _dispatch(dialect: str) -> list[str]:
    """0002: the runner's process group on runs, and the dispatcher registry."""
    from sqlalchemy import Column, Integer, MetaData, String, Table

    md = MetaData()
    Table(
        "dispatchers",
        md,
        Column("id", String, primary_key=True),
        Column("host", String, nullable=False),
        Column("pid", Integer, nullable=False),
        Column("concurrency", Integer, nullable=False),
        Column("started_at", String, nullable=False),
        Column("heartbeat_at", String, nullable=False),
        Column("stopped_at", String),
    )
    return ["ALTER TABLE runs ADD COLUMN runner_pid INTEGER", *ddl(md, dialect)]


def _goals_and_cron(dialect: str) -> list[str]:
    """0003: goal budgets, cron jobs and their events."""
    from sqlalchemy import Boolean, Column, ForeignKey, Integer, MetaData, String, Table, Text

    md = MetaData()
    Table("cards", md, Column("id", Integer, primary_key=True))  # for the foreign keys
    Table(
        "goals",
        md,
        Column("card_id", Integer, ForeignKey("cards.id"), primary_key=True),
        Column("budget", Integer, nullable=False),
    )
    Table(
        "cron_jobs",
        md,
        Column("id", Integer, primary_key=True),
        Column("schedule", String, nullable=False),
        Column("tz", String, nullable=False),
        Column("title", Text, nullable=False),
        Column("body", Text, nullable=False),
        Column("profile", String, nullable=False),
        Column("repo", Text),
        Column("base", String),
        Column("deliver", String),
        Column("overlap", String, nullable=False),
        Column("paused", Boolean, nullable=False),
        Column("created_at", String, nullable=False),
        Column("next_fire_at", String),
        Column("last_fire_at", String),
        Column("last_card_id", Integer),
        sqlite_autoincrement=True,
    )
    Table(
        "cron_events",
        md,
        Column("id", Integer, primary_key=True),
        Column("job_id", Integer, ForeignKey("cron_jobs.id"), nullable=False, index=True),
        Column("at", String, nullable=False),
        Column("kind", String, nullable=False),
        Column("data", Text, nullable=False),
    )
    tables = [md.tables[name] for name in ("goals", "cron_jobs", "cron_events")]
    return ddl_for(tables, dialect)


def _scheduled_index(dialect: str) -> list[str]:
    """0004: a partial index of scheduled ready cards (a dispatcher wake read them all)."""
    from sqlalchemy import Column, Index, Integer, MetaData, String, Table, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.schema import CreateIndex

    scheduled = "status = 'ready' AND not_before IS NOT NULL"  # as in board.schema
    md = MetaData()
    cards = Table(
        "cards",
        md,
        Column("id", Integer, primary_key=True),
        Column("status", String),
        Column("not_before", String),
    )
    index = Index(
        "ix_cards_scheduled",
        cards.c.not_before,
        sqlite_where=text(scheduled),
        postgresql_where=text(scheduled),
    )
    compiler = make_url(f"{dialect}://").get_dialect()()
    return [str(CreateIndex(index).compile(dialect=compiler))]


def _card_model_archive(dialect: str) -> list[str]:
    """0005: a card's own model (overriding its profile's), and archiving."""
    del dialect  # the same statements on every engine
    return [
        "ALTER TABLE cards ADD COLUMN model VARCHAR",
        "ALTER TABLE cards ADD COLUMN archived_at VARCHAR",
    ]


def _dispatcher_control(dialect: str) -> list[str]:
    """0006: a dispatcher's lease (how stale its heartbeat may be before it counts as
    gone) and a stop asked of it through the board (`hermes dispatcher stop`)."""
    del dialect  # the same statements on every engine
    return [
        "ALTER TABLE dispatchers ADD COLUMN lease FLOAT",
        "ALTER TABLE dispatchers ADD COLUMN stop_requested_at VARCHAR",
    ]


def _gateway(dialect: str) -> list[str]:
    """0007: chat subscriptions, the bot's messages about cards, strangers told once, and
    each chat platform's state."""
    from sqlalchemy import (
        Boolean,
        Column,
        ForeignKey,
        Integer,
        MetaData,
        String,
        Table,
        Text,
        UniqueConstraint,
    )

    md = MetaData()
    Table("cards", md, Column("id", Integer, primary_key=True))  # for the foreign keys
    Table(
        "subscriptions",
        md,
        Column("id", Integer, primary_key=True),
        Column("platform", String, nullable=False),
        Column("chat", String, nullable=False),
        Column("card_id", Integer, ForeignKey("cards.id"), nullable=False, index=True),
        Column("mode", String, nullable=False),
        Column("cursor", Integer, nullable=False),
        Column("status_message", String),
        Column("failures", Integer, nullable=False),
        Column("last_error", Text),
        Column("retry_at", String),
        Column("closed_at", String),
        Column("created_at", String, nullable=False),
        UniqueConstraint("platform", "chat", "card_id", name="uq_subscriptions_chat_card"),
        sqlite_autoincrement=True,
    )
    Table(
        "chat_messages",
        md,
        Column("platform", String, primary_key=True),
        Column("chat", String, primary_key=True),
        Column("message", String, primary_key=True),
        Column("card_id", Integer, ForeignKey("cards.id"), nullable=False),
        Column("run_id", Integer),
        Column("purpose", String, nullable=False),
        Column("created_at", String, nullable=False),
    )
    Table(
        "gateway_strangers",
        md,
        Column("platform", String, primary_key=True),
        Column("user", String, primary_key=True),
        Column("told_at", String, nullable=False),
    )
    Table(
        "gateway_state",
        md,
        Column("platform", String, primary_key=True),
        Column("host", String, nullable=False),
        Column("pid", Integer, nullable=False),
        Column("connected", Boolean, nullable=False),
        Column("heartbeat_at", String, nullable=False),
        Column("last_message_at", String),
        Column("last_error", Text),
    )
    names = ("subscriptions", "chat_messages", "gateway_strangers", "gateway_state")
    return ddl_for([md.tables[name] for name in names], dialect)


MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001_initial", lambda dialect: ddl(_initial(), dialect)),
    Migration("0002_dispatch", _dispatch),
    Migration("0003_goals_cron", _goals_and_cron),
    Migration("0004_scheduled_index", _scheduled_index),
    Migration("0005_card_model_archive", _card_model_archive),
    Migration("0006_dispatcher_control", _dispatcher_control),
    Migration("0007_gateway", _gateway),
)
MIGRATION_NAMES: tuple[str, ...] = tuple(m.name for m in MIGRATIONS)


def _fresh() -> MetaData:
    """The current schema, straight from the SQLModel tables."""
    from sqlmodel import SQLModel

    import board.schema  # noqa: F401  (registers the tables on SQLModel.metadata)

    return SQLModel.metadata


def ddl(metadata: MetaData, dialect: str = "sqlite") -> list[str]:
    """The CREATE statements for all of `metadata`, compiled for `dialect`."""
    return ddl_for(list(metadata.sorted_tables), dialect)


def ddl_for(tables: list[Any], dialect: str) -> list[str]:
    """The CREATE statements (tables and their indexes) for some tables of a metadata."""
    from sqlalchemy import create_mock_engine
    from sqlalchemy.engine import make_url

    compiler = make_url(f"{dialect}://").get_dialect()()
    statements: list[str] = []
    engine = create_mock_engine(
        f"{dialect}://",
        lambda sql, *_, **__: statements.append(str(sql.compile(dialect=compiler))),
    )
    tables[0].metadata.create_all(engine, tables=tables, checkfirst=False)
    return statements


def applied(cx: sqlite3.Connection) -> list[str] | None:
    """Names of the migrations this database has, or None when it has no schema yet."""
    try:
        rows = cx.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise
    return [name for (name,) in rows]


def migrate(db: Database, now: datetime) -> list[str]:
    """Bring the database to the current schema; returns the migrations it ran."""
    if applied(db.cx) == list(MIGRATION_NAMES):
        return []
    with db.write() as cx:  # re-read under the write lock: another process may have won
        have = applied(cx)
        if have is None:
            _run(cx, ddl(_fresh(), db.dialect))
            _record(cx, MIGRATION_NAMES, iso(now))
            return list(MIGRATION_NAMES)
        unknown = sorted(set(have) - set(MIGRATION_NAMES))
        if unknown:
            raise StorageError(
                f"the board at {db.path} was written by a newer hermes "
                f"(unknown migration {unknown[0]}); upgrade hermes to use it"
            )
        pending = [m for m in MIGRATIONS if m.name not in have]
        for migration in pending:
            _run(cx, migration.statements(db.dialect))
        _record(cx, [m.name for m in pending], iso(now))
        return [m.name for m in pending]


def _run(cx: sqlite3.Connection, statements: list[str]) -> None:
    for statement in statements:
        cx.execute(statement)


def _record(cx: sqlite3.Connection, names: tuple[str, ...] | list[str], now: str) -> None:
    cx.executemany(
        "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
        [(name, now) for name in names],
    )
