"""Schema migrations: a board migrated from empty has exactly the fresh schema."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect

from board import open_store
from board.db import open_database
from board.migrations import MIGRATION_NAMES, MIGRATIONS, applied, migrate
from hermes.errors import StorageError
from tests.conftest import T0


def describe(path: Path) -> dict[str, Any]:
    """Everything about a schema that matters: tables, columns, keys, indexes."""
    engine = create_engine(f"sqlite:///{path}")
    try:
        inspector = inspect(engine)
        schema: dict[str, Any] = {}
        for table in sorted(inspector.get_table_names()):
            schema[table] = {
                # by name: a column added by ALTER TABLE lands last, which is fine
                "columns": sorted(
                    (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                    for c in inspector.get_columns(table)
                ),
                "pk": inspector.get_pk_constraint(table)["constrained_columns"],
                "fks": sorted(
                    (tuple(fk["constrained_columns"]), fk["referred_table"])
                    for fk in inspector.get_foreign_keys(table)
                ),
                "unique": sorted(
                    tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)
                ),
                "indexes": sorted(
                    (
                        i["name"],
                        tuple(i["column_names"]),
                        bool(i["unique"]),
                        str(i.get("dialect_options", {}).get("sqlite_where")),
                    )
                    for i in inspector.get_indexes(table)
                ),
            }
        with engine.connect() as conn:  # AUTOINCREMENT keeps run ids (fencing tokens) unique
            schema["autoincrement"] = sorted(
                name
                for (name,) in conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE sql LIKE '%AUTOINCREMENT%'"
                )
            )
        return schema
    finally:
        engine.dispose()


def migrated_from_empty(path: Path) -> None:
    """What an old board went through: every migration, in order, on an empty file."""
    db = open_database(f"sqlite:///{path}")
    with db.write() as cx:
        for migration in MIGRATIONS:
            for statement in migration.statements("sqlite"):
                cx.execute(statement)
    db.close()


def test_fresh_schema_equals_migrated_schema(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.db"
    open_store(f"sqlite:///{fresh}", now=T0).close()
    old = tmp_path / "old.db"
    migrated_from_empty(old)
    assert describe(fresh) == describe(old)


def test_a_fresh_board_records_every_migration(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'b.db'}")
    assert applied(db.cx) is None
    assert migrate(db, T0) == list(MIGRATION_NAMES)
    assert applied(db.cx) == list(MIGRATION_NAMES)
    assert migrate(db, T0) == []  # current: nothing to do


def test_a_failing_migration_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    migrated_from_empty(path)
    db = open_database(f"sqlite:///{path}")
    with db.write() as cx:
        cx.execute("DELETE FROM schema_migrations")  # as if none had been recorded yet
    with pytest.raises(StorageError):
        # replaying 0001 on existing tables fails loudly, and the rollback keeps it whole
        migrate(db, T0)
    assert applied(db.cx) == []


def test_a_board_from_a_newer_hermes_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    open_store(url, now=T0).close()
    cx = sqlite3.connect(tmp_path / "b.db")
    cx.execute("INSERT INTO schema_migrations VALUES ('9999_future', 'x')")
    cx.commit()
    cx.close()
    with pytest.raises(StorageError, match=r"newer hermes .*9999_future.*upgrade hermes"):
        open_store(url, now=T0)


def test_many_processes_opening_a_new_board_at_once_create_it_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    script = (
        "from board import open_store; from board.clock import utcnow; "
        f"print(open_store({url!r}).stats(utcnow())['cards'])"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(6)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, outputs
    db = open_database(url)
    assert applied(db.cx) == list(MIGRATION_NAMES)


def test_an_old_board_is_upgraded_in_place_and_keeps_its_cards(tmp_path: Path) -> None:
    """A board written by the first release (only 0001) gains the later ones on open."""
    path = tmp_path / "old.db"
    db = open_database(f"sqlite:///{path}")
    with db.write() as cx:
        for statement in MIGRATIONS[0].statements("sqlite"):
            cx.execute(statement)
        cx.execute("INSERT INTO schema_migrations VALUES ('0001_initial', 'then')")
        cx.execute(
            "INSERT INTO cards (title, body, status, profile, priority, labels, source, "
            "attempts, max_attempts, created_at, updated_at) VALUES "
            "('kept', '', 'ready', 'shell', 0, '[]', 'cli', 0, 3, 'then', 'then')"
        )
    db.close()
    with open_store(f"sqlite:///{path}", now=T0) as store:
        assert store.card(1).title == "kept"
        claim = store.claim(T0, 60)
        assert claim is not None
    fresh = tmp_path / "fresh.db"
    open_store(f"sqlite:///{fresh}", now=T0).close()
    assert describe(path) == describe(fresh)
    check = open_database(f"sqlite:///{path}")
    assert applied(check.cx) == list(MIGRATION_NAMES)
