"""The SQLite connection: WAL, durability settings, URLs and environment faults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from board import open_store
from board.db import open_database, sqlite_path, synchronous_mode
from hermes.errors import InvalidInput, StorageError
from tests.conftest import T0


def pragma(store_url: str, name: str) -> object:
    db = open_database(store_url)
    try:
        return db.cx.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        db.close()


def test_board_uses_wal_and_full_synchronous_by_default(db_url: str) -> None:
    open_store(db_url, now=T0).close()
    assert pragma(db_url, "journal_mode") == "wal"
    assert pragma(db_url, "synchronous") == 2  # FULL
    assert pragma(db_url, "foreign_keys") == 1


def test_synchronous_is_configurable(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERMES_SQLITE_SYNCHRONOUS", "normal")
    assert pragma(db_url, "synchronous") == 1
    monkeypatch.setenv("HERMES_SQLITE_SYNCHRONOUS", "sometimes")
    with pytest.raises(InvalidInput, match="'SOMETIMES' is not a SQLite synchronous level"):
        synchronous_mode()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:////tmp/x/board.db", "/tmp/x/board.db"),
        ("sqlite+aiosqlite:////tmp/x/board.db", "/tmp/x/board.db"),
        ("sqlite+pysqlite:///rel/board.db?timeout=5", "rel/board.db"),
    ],
)
def test_sqlalchemy_style_urls(url: str, path: str) -> None:
    assert sqlite_path(url) == Path(path)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql+psycopg://u@h/db", "scheme 'postgresql+psycopg' is not supported yet"),
        ("mysql://x", "scheme 'mysql' is not supported yet"),
        ("sqlite://", "names no database file"),
        ("/srv/board.db", "'/srv/board.db' is not a URL; write it as sqlite:////srv/board.db"),
        ("board.db", "'board.db' is not a URL; write it as sqlite:///PATH/board.db"),
        ("sqlite:///:memory:", "names no database file"),
    ],
)
def test_unsupported_urls_are_explained(url: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        sqlite_path(url)


def test_a_file_that_is_not_a_database_is_an_environment_error(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match=f"cannot use the board database {path}") as caught:
        open_store(f"sqlite:///{path}", now=T0)
    assert caught.value.exit_code == 1


def test_a_board_path_under_a_file_is_an_environment_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="cannot create") as caught:
        open_store(f"sqlite:///{blocker / 'board.db'}", now=T0)
    assert caught.value.exit_code == 1
