"""The PostgreSQL engine (psycopg 3): one board shared by dispatchers on several hosts.

What differs from SQLite, and why:

- Writers run side by side (READ COMMITTED), so the store locks what a transition reads
  (`SELECT ... FOR UPDATE` of the card) before the conditional UPDATE it decides, claims
  skip rows another claim holds (`FOR UPDATE SKIP LOCKED`), and a transaction that loses
  a race (a serialization failure, a deadlock, an UPDATE that matched nothing) is rolled
  back whole and raises `Retry`, for the store to run it again.
- Time-judged decisions (leases, `not_before`, expiry) read the server's clock
  (`clock_timestamp()`), so hosts with skewed clocks agree.
- Changes are announced with LISTEN/NOTIFY: a statement trigger on the event log (and on
  the few tables that change without an event) calls `pg_notify` inside the writing
  transaction, so the notification is sent exactly when the change commits. Followers
  wait on the connection's socket instead of polling.
- Event ids come from a sequence and are taken before commit, so they can commit out of
  order. Each transaction that writes events holds a shared advisory lock from before its
  first event id until it ends (the same trigger takes it); a reader of the log takes the
  lock exclusively for one statement (`read_log`), so it never sees event N+1 while N is
  still on its way. Writers never wait for each other on it, only, briefly, for a reader.
- A session idle inside a transaction for `IDLE_IN_TRANSACTION` seconds (a frozen or
  vanished host) is ended by the server, so its row locks do not hold the board.

SQL is written once in `board.queries` with `:name` parameters; each statement text is
translated to psycopg's `%(name)s` once and cached.
"""

from __future__ import annotations

import re
import select
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from board.db import LARGEST, Clock, Retry, redact
from hermes.errors import InvalidInput, StorageError

if TYPE_CHECKING:
    import psycopg

#: The advisory lock namespace (two-int form): 'herm', then what is locked.
LOCK_SPACE = 0x6865726D
EVENTS_LOCK = 1  # shared: a transaction is writing events; exclusive: a log reader
GRAPH_LOCK = 2  # a dependency is being added (cycle checks see one graph)
MIGRATE_LOCK = 3  # a migration runs
#: The channel every change is announced on.
CHANNEL = "hermes_board"
#: Seconds a session may sit idle inside a transaction before the server ends it.
IDLE_IN_TRANSACTION = 5
#: How long a log reader waits for writers that are between taking an event id and
#: committing, before it lets them go and tries again.
LOG_LOCK_TIMEOUT_MS = 200

_RETRY_STATES = {
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available (lock_timeout)
    "23505",  # unique_violation: a concurrent insert of the same key; run again, find it
}
_PARAM = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|::|:([A-Za-z_]\w*)|%")


def translate(sql: str) -> str:
    """`:name` parameters as psycopg's `%(name)s`; `%` doubled; `::` casts and quoted
    literals and identifiers left alone."""

    def swap(match: re.Match[str]) -> str:
        if match[1] is not None:
            return f"%({match[1]})s"
        return match[0].replace("%", "%%")  # psycopg reads % inside literals too

    return _PARAM.sub(swap, sql)


_TRANSLATED: dict[str, str] = {}


def translated(sql: str) -> str:
    """`translate`, once per statement text."""
    found = _TRANSLATED.get(sql)
    if found is None:
        found = _TRANSLATED[sql] = translate(sql)
    return found


class PgRow(tuple[Any, ...]):
    """A row by position or by column name, like `sqlite3.Row` (and equal to a tuple)."""

    __slots__ = ()
    _index: ClassVar[dict[str, int]] = {}
    _names: ClassVar[list[str]] = []

    def __getitem__(self, key: Any) -> Any:
        if type(key) is str:
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        """The column names, in order."""
        return list(self._names)


_ROW_TYPES: dict[tuple[str, ...], type[PgRow]] = {}


def _row_type(names: tuple[str, ...]) -> type[PgRow]:
    found = _ROW_TYPES.get(names)
    if found is None:
        index: dict[str, int] = {}
        for i, name in enumerate(names):
            index.setdefault(name, i)  # a repeated name means its first column
        attributes = {"__slots__": (), "_index": index, "_names": list(names)}
        found = _ROW_TYPES[names] = type("PgRow", (PgRow,), attributes)
    return found


def pg_rows(cursor: Any) -> Callable[[Sequence[Any]], Any]:
    """psycopg row factory: `PgRow`s named by the cursor's columns."""
    description = cursor.description
    if description is None:
        return tuple
    row_type = _row_type(tuple(column.name for column in description))
    return row_type


class PgConnection:
    """The `Connection` protocol over a psycopg connection: `:name` SQL translated, and
    psycopg's errors turned into what they mean to the store (see `PostgresDatabase.error`)."""

    def __init__(self, conn: psycopg.Connection[Any], db: PostgresDatabase) -> None:
        self.conn, self._db = conn, db

    def execute(self, sql: str, params: Any = None, /) -> Any:
        """Run one statement; `params` by name (a mapping)."""
        try:
            return self.conn.execute(translated(sql), params if params is not None else {})
        except _psycopg().Error as exc:
            raise self._db.error(exc) from exc

    def executemany(self, sql: str, params: Iterable[Any], /) -> Any:
        """Run one statement for each set of parameters (pipelined by psycopg)."""
        cursor = self.conn.cursor()
        try:
            cursor.executemany(translated(sql), params)
        except _psycopg().Error as exc:
            raise self._db.error(exc) from exc
        return cursor

    def tuples(self, sql: str, params: Any = None, /) -> Any:
        """`sql` with plain tuple rows."""
        from psycopg.rows import tuple_row

        cursor = self.conn.cursor(row_factory=tuple_row)
        try:
            return cursor.execute(translated(sql), params if params is not None else {})
        except _psycopg().Error as exc:
            raise self._db.error(exc) from exc


class PostgresDatabase:
    """One psycopg connection (autocommit between transactions), transactions issued
    explicitly, notifications counted as they arrive."""

    dialect: Literal["postgresql"] = "postgresql"

    def __init__(self, url: str, clock: Clock = "server") -> None:
        self.url = url
        self.clock: Clock = clock
        self._listening = False
        self._changes = 0
        self._tx_now: datetime | None = None
        self._in_tx = False
        self._conn = self._connect()
        self._cx = PgConnection(self._conn, self)

    # -- connection -------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        pg = _psycopg()
        try:
            conn: psycopg.Connection[Any] = pg.connect(
                libpq_url(self.url), autocommit=True, row_factory=pg_rows
            )
            conn.execute(
                f"SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION}s'; "
                "SET TIME ZONE 'UTC'"
            )
        except pg.Error as exc:
            raise StorageError(
                f"cannot connect to the board database {redact(self.url)}: "
                f"{_first_line(exc)}; check that the server runs, the database exists and "
                "the user may log in (HERMES_DB_URL)"
            ) from exc
        conn.add_notify_handler(self._notified)
        if self._listening:
            conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def _reconnect(self) -> None:
        try:
            self._conn.close()
        finally:
            self._conn = self._connect()
            self._cx = PgConnection(self._conn, self)

    @property
    def cx(self) -> PgConnection:
        """The connection for single statements outside a transaction."""
        if self._conn.closed:
            self._reconnect()
        return self._cx

    # -- transactions -----------------------------------------------------------------

    def write(self) -> AbstractContextManager[PgConnection]:
        """A READ COMMITTED write transaction; the store locks the rows it decides on."""
        return self._transaction("BEGIN")

    def read(self) -> AbstractContextManager[PgConnection]:
        """A read-only transaction on one snapshot (REPEATABLE READ never fails a reader)."""
        return self._transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def read_log(self) -> AbstractContextManager[PgConnection]:
        """Read the event log once no writer is between taking an event id and committing:
        the exclusive side of the events lock, then the statements (READ COMMITTED, so
        each sees every commit made before it)."""
        return self._transaction(
            f"BEGIN READ ONLY; SET LOCAL lock_timeout = {LOG_LOCK_TIMEOUT_MS}; "
            f"SELECT pg_advisory_xact_lock({LOCK_SPACE}, {EVENTS_LOCK})"
        )

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[PgConnection]:
        psycopg = _psycopg()
        if self._conn.closed:
            self._reconnect()
        conn = self._conn
        self._tx_now, self._in_tx = None, True
        try:
            try:
                conn.execute(begin)
            except psycopg.Error as exc:
                raise self.error(exc) from exc
            yield self._cx
            try:
                conn.execute("COMMIT")
            except psycopg.Error as exc:
                raise self.error(exc, committing=True) from exc
        except BaseException:
            if not conn.closed and conn.info.transaction_status != _idle():
                try:
                    conn.execute("ROLLBACK")
                except psycopg.Error:
                    conn.close()  # reconnect at the next use
            raise
        finally:
            self._tx_now, self._in_tx = None, False

    def error(self, exc: Exception, *, committing: bool = False) -> Exception:
        """What a psycopg error means to the store: a race to run again (`Retry`), bad
        input, a lost connection, or the environment's fault (`StorageError`)."""
        psycopg = _psycopg()
        state = getattr(exc, "sqlstate", None)
        if state in _RETRY_STATES:
            return Retry(_first_line(exc))
        if isinstance(exc, psycopg.DataError) or state in ("22003", "22021", "22P05"):
            if state == "22003" or "out of range" in str(exc):
                return InvalidInput(
                    f"a number given is larger than the board can hold ({LARGEST:,}); "
                    "check the ids and numbers"
                )
            return InvalidInput(
                f"text the board cannot store ({_first_line(exc)}); "
                "give text in UTF-8 without NUL characters"
            )
        if not isinstance(exc, psycopg.OperationalError):
            return exc  # a statement the server refused: a bug, shown as one
        lost = self._conn.closed or self._conn.broken
        if lost and not committing and self._in_tx:
            # the server ended the session (a stall past IDLE_IN_TRANSACTION, a restart):
            # the transaction was rolled back; running it again on a new connection is safe
            return Retry(f"the connection was lost ({_first_line(exc)}); nothing was applied")
        after = " while committing (the change may or may not have been applied)" * committing
        if lost:
            self._conn.close()  # the next call connects again
        return StorageError(
            f"cannot use the board database {redact(self.url)}{after}: {_first_line(exc)}; "
            "check that the server runs and has disk space, then try again"
        )

    # -- the clock --------------------------------------------------------------------

    def now(self, cx: Any, given: datetime, *, fresh: bool = False) -> datetime:
        """The server's clock inside the transaction (read once, or again if `fresh`),
        or `given` when the caller's clock is the board's."""
        if self.clock == "caller":
            return given
        if fresh or self._tx_now is None:
            self._tx_now = _utc(cx.execute("SELECT clock_timestamp()").fetchone()[0])
        return self._tx_now

    def server_now(self) -> datetime | None:
        """The server's clock, or None when the caller's clock is the board's."""
        if self.clock == "caller":
            return None
        return _utc(self.cx.execute("SELECT clock_timestamp()").fetchone()[0])

    # -- changes ----------------------------------------------------------------------

    def _notified(self, _notify: Any) -> None:
        self._changes += 1

    def _listen(self) -> None:
        if not self._listening:
            self.cx.execute(f"LISTEN {CHANNEL}")
            self._listening = True

    def data_version(self) -> int:
        """How many change announcements this connection has heard: read off the socket
        without a round trip (LISTEN on first use, and again on a new connection after
        one was lost, counted as a change since announcements may have been missed)."""
        if self._conn.closed:
            self._reconnect()
            self._changes += 1
        self._listen()
        self._drain()
        return self._changes

    def fileno(self) -> int | None:
        """The socket that becomes readable when a change is announced (on a new
        connection after one was lost: a server restart must not end the followers)."""
        if self._conn.closed:
            self._reconnect()
            self._changes += 1
        self._listen()
        return int(self._conn.pgconn.socket)

    def _drain(self) -> None:
        """Count the notifications waiting on the socket, without blocking."""
        pgconn = self._conn.pgconn
        try:
            readable, _, _ = select.select([pgconn.socket], [], [], 0)
            if not readable:
                return
            pgconn.consume_input()
        except (OSError, _psycopg().Error):
            # the connection is gone (a server restart): what it would have announced is
            # unknown, so count a change (followers look again); the next use reconnects
            # and LISTENs again
            self._conn.close()
            self._changes += 1
            return
        while pgconn.notifies() is not None:
            self._changes += 1

    def close(self) -> None:
        """Close the connection; uncommitted work is rolled back."""
        self._conn.close()


def _psycopg() -> Any:
    """psycopg, or the one-line fix when it is not installed (exit 2)."""
    try:
        import psycopg
    except ImportError:
        raise InvalidInput(
            "HERMES_DB_URL names a PostgreSQL board, but psycopg is not installed; "
            "pip install 'hermes-board[postgres]'"
        ) from None
    return psycopg


def _idle() -> Any:
    from psycopg.pq import TransactionStatus

    return TransactionStatus.IDLE


def libpq_url(url: str) -> str:
    """An SQLAlchemy-style URL as libpq reads it: `postgresql+psycopg://` becomes
    `postgresql://` (`?host=/socket/dir` and the other libpq parameters stay)."""
    return re.sub(r"^postgres(?:ql)?(?:\+\w+)?://", "postgresql://", url.strip())


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_postgres(url: str, *, clock: Clock = "server") -> PostgresDatabase:
    """Open the PostgreSQL board at `url` (the schema is made by `board.migrations`)."""
    return PostgresDatabase(url, clock)
