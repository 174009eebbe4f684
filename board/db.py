"""The board's database seam: a small `Database` protocol and the engine a URL names.

Two engines sit behind it: SQLite (`board.sqlite`, the embedded default, one file in WAL
mode) and PostgreSQL (`board.postgres`, psycopg 3, for dispatchers on several hosts).
The store speaks only this protocol: a write transaction, a read transaction, single
statements outside one, the change signal, the clock, and the dialect name that picks
the few statements the engines spell differently (`board.queries`).

The store uses DB-API connections directly on both engines: SQLAlchemy costs a third of
a second to import and halves commit throughput, neither affordable on the hot path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from hermes.errors import InvalidInput, StorageError

#: The largest integer a column holds; no id can be larger.
LARGEST = 2**63 - 1

Dialect = Literal["sqlite", "postgresql"]
#: "server": decisions that depend on time use the database server's clock (PostgreSQL,
#: so hosts with skewed clocks agree); "caller": the `now` each call passes is used as
#: is (SQLite always, and tests that pass literal times).
Clock = Literal["server", "caller"]

_SQLITE_URL = re.compile(r"sqlite(?:\+(?:pysqlite|aiosqlite))?://(?P<rest>.*)")
_POSTGRES_URL = re.compile(r"postgres(?:ql)?(?:\+(?:psycopg|psycopg2|psycopg_async))?://")


class Cursor(Protocol):
    """What a statement gives back: rows (by position and by column name) and a count."""

    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """A connection inside (or outside) a transaction; statements use `:name` parameters."""

    def execute(self, sql: str, params: Any = ..., /) -> Cursor: ...

    def executemany(self, sql: str, params: Iterable[Any], /) -> Cursor: ...

    def tuples(self, sql: str, params: Any = ..., /) -> Cursor:
        """The same statement with plain tuple rows, for bulk reads mapped once by the
        cursor's column names (cheaper per row than name-addressable rows)."""
        ...


class Database(Protocol):
    """One connection to the board, whatever the engine."""

    @property
    def dialect(self) -> Dialect:
        """Which engine: picks the statements the engines spell differently."""
        ...

    @property
    def url(self) -> str:
        """The board's URL."""
        ...

    @property
    def clock(self) -> Clock:
        """Whose clock time-judged decisions use."""
        ...

    @property
    def cx(self) -> Connection:
        """The connection for single statements outside a transaction (autocommit)."""
        ...

    def write(self) -> AbstractContextManager[Connection]:
        """A write transaction: commits whole or rolls back whole. A transaction that
        lost a race to another (a serialization failure, a deadlock) raises `Retry`
        after rolling back."""
        ...

    def read(self) -> AbstractContextManager[Connection]:
        """A read transaction: one consistent snapshot across several statements."""
        ...

    def read_log(self) -> AbstractContextManager[Connection]:
        """A read of the event log that never skips an event a later read would see:
        on PostgreSQL, event ids are handed out before commit, so this waits until no
        transaction is between taking an id and committing (see `board.postgres`)."""
        ...

    def now(self, cx: Connection, given: datetime, *, fresh: bool = False) -> datetime:
        """The moment a decision inside the transaction `cx` uses: `given` with the
        caller's clock, the server's clock otherwise (`fresh`: read it again now, after
        the locks were taken, rather than at the transaction's start)."""
        ...

    def server_now(self) -> datetime | None:
        """The database server's clock, or None when the caller's clock is the board's."""
        ...

    def data_version(self) -> int:
        """A number that changes whenever another connection commits a change that
        matters to the board's followers (cheap to poll; no round trip on PostgreSQL)."""
        ...

    def fileno(self) -> int | None:
        """A descriptor that becomes readable when a change is announced (PostgreSQL's
        LISTEN socket), or None where changes are only found by polling."""
        ...

    def close(self) -> None:
        """Close the connection; uncommitted work is rolled back."""
        ...


class Retry(Exception):
    """The transaction lost a race and was rolled back whole; running it again may
    succeed (see `board.base.retried`)."""


class LostRace(Retry):
    """A conditional UPDATE decided by an earlier read matched nothing: someone changed
    the row in between. Nothing of the transaction was applied."""


def engine_of(url: str, name: str = "HERMES_DB_URL") -> Dialect:
    """Which engine a board URL names; a bad or unsupported URL is refused with the fix,
    naming the URL as `name` (the setting or option it came from)."""
    text = url.strip()
    if _POSTGRES_URL.match(text):
        return "postgresql"
    if _SQLITE_URL.fullmatch(text):
        return "sqlite"
    if "://" not in text:
        hint = f"sqlite:///{text}" if text.startswith("/") else "sqlite:///PATH/board.db"
        raise InvalidInput(f"{name} {redact(url)!r} is not a URL; write it as {hint}")
    scheme = text.split(":", 1)[0]
    raise InvalidInput(
        f"{name} scheme {scheme!r} is not supported; use sqlite:///PATH "
        "or postgresql://USER@HOST/DATABASE"
    )


def sqlite_path(url: str) -> Path:
    """The file behind an SQLAlchemy-style SQLite URL (`sqlite:///path`, `+aiosqlite` too)."""
    if engine_of(url) != "sqlite":
        raise InvalidInput(f"HERMES_DB_URL {redact(url)!r} is not a SQLite URL")
    match = _SQLITE_URL.fullmatch(url.strip())
    assert match is not None
    rest = match["rest"].split("?", 1)[0]
    if not rest.startswith("/") or rest in ("/", "/:memory:"):
        raise InvalidInput(
            f"HERMES_DB_URL {url!r} names no database file; use sqlite:///PATH/board.db"
        )
    return Path(rest[1:]).expanduser()


def redact(url: str) -> str:
    """The URL without its password (`user:PASSWORD@` or `?password=`), fit for messages
    and logs."""
    url = re.sub(r"(://[^:/@?]*):[^@/?]*@", r"\1:***@", url)
    return re.sub(r"(?i)([?&]password=)[^&#]*", r"\1***", url)


def open_database(
    url: str, *, synchronous: str | None = None, clock: Clock | None = None
) -> Database:
    """Open the board database named by `url` (its engine chosen by the scheme).

    `synchronous` is SQLite's durability level (ignored by PostgreSQL); `clock` says whose
    clock time-judged decisions use (default: the server's on PostgreSQL).
    """
    if engine_of(url) == "postgresql":
        from board.postgres import open_postgres

        return open_postgres(url, clock=clock or "server")
    from board.sqlite import open_sqlite

    return open_sqlite(url, synchronous=synchronous)


def storage_error(what: str, exc: BaseException, fix: str) -> StorageError:
    """An actionable error for a database that cannot be used: what, why, the fix."""
    return StorageError(f"cannot use the board database {what}: {exc}; {fix}")
