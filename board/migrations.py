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

import re
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from board.clock import iso
from board.db import redact
from hermes.errors import HermesError, StorageError

if TYPE_CHECKING:
    from sqlalchemy import MetaData

    from board.db import Connection, Database


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
    compiler = make_url(_SQLALCHEMY_URLS.get(dialect, f"{dialect}://")).get_dialect()()
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


# What PostgreSQL adds to the schema (0008): the change notices and the events lock that
# `board.postgres` describes. The statement trigger on events takes the shared side of
# the events lock before the statement takes its ids, and announces the change; both
# last until the transaction ends. The few tables that change without an event announce
# themselves too (a new cron job, a stop asked of a dispatcher).
_PG_NOTICES = [
    """
CREATE FUNCTION hermes_events_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(1751478893, 1);
    PERFORM pg_notify('hermes_board', '');
    RETURN NULL;
END
$$""",
    """
CREATE FUNCTION hermes_board_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hermes_board', '');
    RETURN NULL;
END
$$""",
    "CREATE TRIGGER events_written BEFORE INSERT ON events "
    "FOR EACH STATEMENT EXECUTE FUNCTION hermes_events_written()",
    "CREATE TRIGGER cron_jobs_changed AFTER INSERT OR UPDATE OR DELETE ON cron_jobs "
    "FOR EACH STATEMENT EXECUTE FUNCTION hermes_board_changed()",
    "CREATE TRIGGER dispatchers_stop_asked AFTER UPDATE OF stop_requested_at ON dispatchers "
    "FOR EACH STATEMENT EXECUTE FUNCTION hermes_board_changed()",
]


def _change_notices(dialect: str) -> list[str]:
    """0008: PostgreSQL's change notices and events lock (nothing on SQLite, whose
    `data_version` moves by itself and whose writers commit in order)."""
    return list(_PG_NOTICES) if dialect == "postgresql" else []


MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001_initial", lambda dialect: ddl(_initial(), dialect)),
    Migration("0002_dispatch", _dispatch),
    Migration("0003_goals_cron", _goals_and_cron),
    Migration("0004_scheduled_index", _scheduled_index),
    Migration("0005_card_model_archive", _card_model_archive),
    Migration("0006_dispatcher_control", _dispatcher_control),
    Migration("0007_gateway", _gateway),
    Migration("0008_change_notices", _change_notices),
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


def fresh_schema(dialect: str) -> list[str]:
    """Everything a new board is made of: the tables from `board.schema`, and what the
    engine adds beyond tables (PostgreSQL's notices)."""
    return ddl(_fresh(), dialect) + _change_notices(dialect)


def for_engine(statement: str, dialect: str) -> str:
    """A statement as the engine runs it. PostgreSQL: every integer column is 64-bit, as
    SQLite's are (ids are never capped at 2**31; `SERIAL` becomes `BIGSERIAL`)."""
    if dialect != "postgresql":
        return statement
    return re.sub(r"\bSERIAL\b", "BIGSERIAL", re.sub(r"\bINTEGER\b", "BIGINT", statement))


def ddl_for(tables: list[Any], dialect: str) -> list[str]:
    """The CREATE statements (tables and their indexes) for some tables of a metadata."""
    from sqlalchemy import create_mock_engine
    from sqlalchemy.engine import make_url

    url = _SQLALCHEMY_URLS.get(dialect, f"{dialect}://")
    compiler = make_url(url).get_dialect()()
    statements: list[str] = []
    engine = create_mock_engine(
        url,
        lambda sql, *_, **__: statements.append(str(sql.compile(dialect=compiler))),
    )
    tables[0].metadata.create_all(engine, tables=tables, checkfirst=False)
    return statements


def applied(cx: Connection, dialect: str = "sqlite") -> list[str] | None:
    """Names of the migrations this database has, or None when it has no schema yet."""
    if dialect == "postgresql":  # a failed statement would end PostgreSQL's transaction
        if cx.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is None:
            return None
    try:
        rows = cx.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise
    return [name for (name,) in rows]


def migrate(db: Database, now: datetime) -> list[str]:
    """Bring the database to the current schema; returns the migrations it ran.

    One write transaction: it runs whole or not at all (DDL is transactional on both
    engines), and two processes never migrate at once (SQLite's write lock; an advisory
    lock on PostgreSQL)."""
    if applied(db.cx, db.dialect) == list(MIGRATION_NAMES):
        return []
    try:
        with db.write() as cx:  # re-read under the lock: another process may have won
            if db.dialect == "postgresql":
                cx.execute("SELECT pg_advisory_xact_lock(1751478893, 3)")  # MIGRATE_LOCK
            return _migrate(db, cx, iso(now))
    except HermesError:
        raise
    except Exception as exc:  # a statement the database refused: nothing was applied
        raise StorageError(
            f"cannot bring the board at {_where(db)} to the current schema: {exc}; "
            "nothing was changed"
        ) from exc


def _migrate(db: Database, cx: Connection, now: str) -> list[str]:
    have = applied(cx, db.dialect)
    if have is None:
        _run(cx, fresh_schema(db.dialect), db.dialect)
        _record(cx, MIGRATION_NAMES, now)
        return list(MIGRATION_NAMES)
    unknown = sorted(set(have) - set(MIGRATION_NAMES))
    if unknown:
        raise StorageError(
            f"the board at {_where(db)} was written by a newer hermes "
            f"(unknown migration {unknown[0]}); upgrade hermes to use it"
        )
    pending = [m for m in MIGRATIONS if m.name not in have]
    for migration in pending:
        _run(cx, migration.statements(db.dialect), db.dialect)
    _record(cx, [m.name for m in pending], now)
    return [m.name for m in pending]


def _where(db: Database) -> str:
    path = getattr(db, "path", None)
    return str(path) if path is not None else redact(db.url)


def _run(cx: Connection, statements: list[str], dialect: str) -> None:
    for statement in statements:
        cx.execute(for_engine(statement, dialect))


def _record(cx: Connection, names: tuple[str, ...] | list[str], now: str) -> None:
    cx.executemany(
        "INSERT INTO schema_migrations (name, applied_at) VALUES (:name, :now)",
        [{"name": name, "now": now} for name in names],
    )


#: SQLAlchemy dialects that compile DDL without a driver installed beyond psycopg.
_SQLALCHEMY_URLS = {"postgresql": "postgresql+psycopg://"}
