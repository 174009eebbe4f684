"""The engines behind the store: SQLite's WAL and durability settings, URLs of both
engines, PostgreSQL's SQL translation and rows, and environment faults."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from board import CardFilter, NewCard, Store, open_store
from board.db import engine_of, open_database, redact, sqlite_path
from board.postgres import libpq_url, translate
from board.sqlite import synchronous_mode
from hermes.errors import InvalidInput, StorageError
from tests.conftest import T0

sqlite_only = pytest.mark.engines("sqlite")


def pragma(store_url: str, name: str) -> object:
    db = open_database(store_url)
    try:
        return db.cx.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        db.close()


@sqlite_only
def test_board_uses_wal_and_full_synchronous_by_default(db_url: str) -> None:
    open_store(db_url, now=T0).close()
    assert pragma(db_url, "journal_mode") == "wal"
    assert pragma(db_url, "synchronous") == 2  # FULL
    assert pragma(db_url, "foreign_keys") == 1


@sqlite_only
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
        ("postgresql+psycopg://u@h/db", "is not a SQLite URL"),
        ("mysql://x", "scheme 'mysql' is not supported; use sqlite:///PATH or postgresql://"),
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


# -- PostgreSQL -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "dialect"),
    [
        ("postgresql://u@h/db", "postgresql"),
        ("postgresql+psycopg://u@h/db", "postgresql"),
        ("postgres://u@h/db", "postgresql"),
        ("postgresql://postgres@/board?host=/run/pg", "postgresql"),
        ("sqlite:////tmp/b.db", "sqlite"),
    ],
)
def test_the_scheme_picks_the_engine(url: str, dialect: str) -> None:
    assert engine_of(url) == dialect


def test_sqlalchemy_style_postgres_urls_reach_libpq_as_it_reads_them() -> None:
    assert libpq_url("postgresql+psycopg://u@h/db") == "postgresql://u@h/db"
    assert libpq_url("postgres://u@/db?host=/tmp/x") == "postgresql://u@/db?host=/tmp/x"
    assert redact("postgresql://u:secret@h/db") == "postgresql://u:***@h/db"
    assert redact("postgresql://u@h/db?password=secret&sslmode=require") == (
        "postgresql://u@h/db?password=***&sslmode=require"
    )


@pytest.mark.parametrize(
    ("sql", "psycopg"),
    [
        ("SELECT :a, :b_2", "SELECT %(a)s, %(b_2)s"),
        ("SELECT :v::int", "SELECT %(v)s::int"),  # a cast is not a parameter
        ("SELECT 'a:b', :x", "SELECT 'a:b', %(x)s"),  # nor is a colon in a literal
        ("SELECT 'it''s :no'", "SELECT 'it''s :no'"),
        ("SELECT '50%' LIKE :p", "SELECT '50%%' LIKE %(p)s"),  # psycopg reads % everywhere
        ('SELECT "user" FROM t WHERE "a:b" = :c', 'SELECT "user" FROM t WHERE "a:b" = %(c)s'),
    ],
)
def test_named_parameters_are_translated_for_psycopg(sql: str, psycopg: str) -> None:
    assert translate(sql) == psycopg


@pytest.mark.engines("postgres")
def test_rows_answer_by_position_and_by_name(db_url: str) -> None:
    db = open_database(db_url)
    try:
        row = db.cx.execute("SELECT 1 AS a, 'x:y' AS b, :p AS c", {"p": "50%"}).fetchone()
        assert (row[0], row["b"], row["c"]) == (1, "x:y", "50%")
        assert row.keys() == ["a", "b", "c"]
        assert row == (1, "x:y", "50%")
    finally:
        db.close()


@pytest.mark.engines("postgres")
def test_text_postgres_cannot_hold_is_bad_input(store: Store) -> None:
    with pytest.raises(InvalidInput, match="NUL"):
        store.add_card(NewCard("a\x00b", "shell", 3), T0)
    with pytest.raises(InvalidInput, match="larger than the board can hold"):
        store.db.cx.execute("SELECT CAST(:n AS BIGINT)", {"n": 2**70})
    assert store.list_cards(CardFilter(include_old=True), T0) == []


@pytest.mark.engines("postgres")
def test_an_unreachable_server_is_an_environment_error(tmp_path: Path) -> None:
    url = f"postgresql://nobody@/nothing?host={tmp_path}&connect_timeout=2"
    with pytest.raises(StorageError, match="cannot connect to the board database") as caught:
        open_store(url)
    assert caught.value.exit_code == 1


def test_a_postgres_url_without_psycopg_says_what_to_install(tmp_path: Path) -> None:
    script = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from board import open_store\n"
        "from hermes.errors import HermesError\n"
        "try:\n"
        "    open_store('postgresql://u@/db?host=/nowhere')\n"
        "except HermesError as exc:\n"
        "    print(exc.exit_code, exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    ).stdout
    assert out.startswith("2 ")
    assert "pip install 'hermes-board[postgres]'" in out
