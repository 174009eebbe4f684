"""The SQLite engine: one file in WAL mode, the embedded default.

Every write is `BEGIN IMMEDIATE ... COMMIT`: SQLite takes the write lock up front, so two
writers queue on the busy timeout instead of failing half-way with `database is locked`,
and a read inside the transaction can safely decide what the following conditional UPDATE
does (no other writer can run in between, so a lost race cannot happen here).

Rows are `sqlite3.Row` (by position and by column name, built in C); bulk reads ask for
plain tuples (`tuples`) and map them once by the cursor's column names.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from board.db import LARGEST, Clock, sqlite_path
from hermes.errors import InvalidInput, StorageError

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
DEFAULT_BUSY_TIMEOUT = 30.0
#: The first and the longest pause between tries for the write lock (seconds); after
#: PATIENT seconds of waiting (the holder is slow, stalled or frozen), pauses grow to
#: SLOW_PAUSE, so a long wait does not poll five hundred times a second.
FIRST_PAUSE, LAST_PAUSE = 0.0001, 0.002
PATIENT, SLOW_PAUSE = 0.1, 0.05


def synchronous_mode(value: str | None = None) -> str:
    """The `PRAGMA synchronous` level: FULL unless `HERMES_SQLITE_SYNCHRONOUS` says otherwise."""
    mode = (value or os.environ.get("HERMES_SQLITE_SYNCHRONOUS") or "FULL").upper()
    if mode not in SYNCHRONOUS_MODES:
        raise InvalidInput(
            f"HERMES_SQLITE_SYNCHRONOUS {mode!r} is not a SQLite synchronous level; "
            f"use one of {', '.join(SYNCHRONOUS_MODES)}"
        )
    return mode


#: What to do, by SQLite's primary result code, for the faults a person can fix.
_FIX = {
    sqlite3.SQLITE_READONLY: "make the file and its directory writable "
    "(or point HERMES_HOME elsewhere)",
    sqlite3.SQLITE_IOERR: "check that the disk has free space and the file may grow (ulimit -f)",
    sqlite3.SQLITE_FULL: "free some disk space",
    sqlite3.SQLITE_CORRUPT: "restore it from a backup, or move it aside to start a new board",
    sqlite3.SQLITE_NOTADB: "restore it from a backup, or move it aside to start a new board",
    sqlite3.SQLITE_CANTOPEN: "check that the path exists and its directory is writable",
}


def _storage_error(path: Path, exc: sqlite3.Error) -> StorageError:
    """An actionable error for a database we cannot use: what went wrong and what to do."""
    code = getattr(exc, "sqlite_errorcode", None)
    fix = _FIX.get(code & 0xFF) if isinstance(code, int) else None
    return StorageError(
        f"cannot use the board database {path}: {exc}; "
        + (fix or "check that HERMES_HOME (or HERMES_DB_URL) points to a writable, healthy file")
    )


class BoardConnection(sqlite3.Connection):
    """sqlite3's connection (its C `execute` untouched, so no cost per statement) plus
    the one method the `Connection` protocol adds."""

    def tuples(self, sql: str, params: Any = (), /) -> sqlite3.Cursor:
        """`sql` with plain tuple rows (see `board.db.Connection.tuples`)."""
        cursor = self.cursor()
        cursor.row_factory = None
        return cursor.execute(sql, params)


class SqliteDatabase:
    """One SQLite connection in WAL mode, with explicit read and write transactions."""

    dialect: Literal["sqlite"] = "sqlite"
    clock: Clock = "caller"

    def __init__(
        self,
        path: Path,
        *,
        synchronous: str | None = None,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self._busy_timeout = busy_timeout
        _private(path)
        try:
            self._cx = sqlite3.connect(
                path,
                timeout=busy_timeout,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,  # callers pin one connection to one thread
                cached_statements=256,
                factory=BoardConnection,
            )
            self._cx.row_factory = sqlite3.Row
            self._cx.execute(f"PRAGMA synchronous={synchronous_mode(synchronous)}")
            self._cx.execute("PRAGMA foreign_keys=ON")
            mode = self._cx.execute("PRAGMA journal_mode").fetchone()[0]
            if mode != "wal":
                # A new board opened by several processes at once (`hermes up`): the one
                # switching second is refused at once (waiting could deadlock), and
                # finds the switch made when it tries again.
                self._when_free("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            raise _storage_error(path, exc) from exc

    @property
    def cx(self) -> BoardConnection:
        """The connection, for single statements outside a transaction."""
        return self._cx

    def write(self) -> AbstractContextManager[BoardConnection]:
        """A write transaction: takes the write lock first, commits or rolls back whole."""
        return self._transaction("BEGIN IMMEDIATE")

    def read(self) -> AbstractContextManager[BoardConnection]:
        """A read transaction: one consistent snapshot across several statements."""
        return self._transaction("BEGIN")

    def read_log(self) -> AbstractContextManager[BoardConnection]:
        """Writers are serialized, so event ids commit in order: a plain read will do."""
        return self._transaction("BEGIN")

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[BoardConnection]:
        cx = self._cx
        try:
            if begin == "BEGIN IMMEDIATE":
                self._when_free(begin)
            else:
                cx.execute(begin)
            yield cx
            cx.execute("COMMIT")
        except BaseException as exc:
            if cx.in_transaction:
                cx.execute("ROLLBACK")
            # Disk full, read-only files, corruption: the environment's fault, not a bug.
            if isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError:
                raise _storage_error(self.path, exc) from exc
            if isinstance(exc, OverflowError):  # a number SQLite cannot hold: bad input
                raise InvalidInput(
                    f"a number given is larger than the board can hold ({LARGEST:,}); "
                    "check the ids and numbers"
                ) from exc
            if isinstance(exc, UnicodeEncodeError):  # text with lone surrogates: not UTF-8
                near = exc.object[max(0, exc.start - 20) : exc.end + 20]
                raise InvalidInput(
                    f"text that is not valid UTF-8 ({near!r}); give text in UTF-8"
                ) from exc
            raise

    def _when_free(self, statement: str) -> None:
        """Run a statement that needs a lock another connection may hold (the write
        lock, or the whole file's for the switch to WAL), trying again in fine steps until
        the busy timeout. SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25 ms...
        between tries, while a write holds the lock for a fraction of a millisecond: with
        a few workers writing at once, they slept while the lock was free and the CPUs
        idled. And where waiting could deadlock, SQLite refuses at once."""
        cx = self._cx
        cx.execute("PRAGMA busy_timeout=0")
        try:
            began = time.monotonic()
            deadline = began + self._busy_timeout
            pause = FIRST_PAUSE
            while True:
                try:
                    cx.execute(statement)
                    return
                except sqlite3.OperationalError as exc:
                    busy = exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY  # any BUSY_*
                    if not busy or time.monotonic() > deadline:
                        raise
                time.sleep(pause)
                longest = LAST_PAUSE if time.monotonic() - began < PATIENT else SLOW_PAUSE
                pause = min(pause * 2, longest)
        finally:
            cx.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")

    def now(self, cx: Any, given: datetime, *, fresh: bool = False) -> datetime:
        """SQLite has no server: the caller's clock is the board's."""
        return given

    def server_now(self) -> datetime | None:
        """None: the caller's clock is the board's."""
        return None

    def data_version(self) -> int:
        """A number that changes whenever another connection commits (cheap to poll)."""
        return int(self._cx.execute("PRAGMA data_version").fetchone()[0])

    def fileno(self) -> int | None:
        """None: SQLite announces nothing; `data_version` is polled (and inotify helps)."""
        return None

    def close(self) -> None:
        """Close the connection; uncommitted work is rolled back."""
        self._cx.close()


def _private(path: Path) -> None:
    """Make the board file readable by its owner only (0600), creating it so; SQLite
    gives its `-wal` and `-shm` files the same permissions. Best effort: a board the
    user cannot chmod (someone else's, read-only) still opens.

    Only paths are used once the file exists: closing any descriptor of a database file
    drops every POSIX lock this process holds on it, including SQLite's own."""
    try:
        if not path.exists():
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        for side in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            mode = side.stat().st_mode if side.exists() else 0
            if mode & 0o077:
                side.chmod(mode & 0o700)  # others lose access; the owner's bits stay
    except OSError:
        pass  # SQLite will say what is wrong, with the fix


def open_sqlite(url: str, *, synchronous: str | None = None) -> SqliteDatabase:
    """Open the SQLite board at `url`, creating its directory on first use."""
    path = sqlite_path(url)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"cannot create {path.parent}: {exc.strerror or exc}; "
            "point HERMES_HOME or HERMES_DB_URL at a writable place"
        ) from exc
    return SqliteDatabase(path, synchronous=synchronous)
