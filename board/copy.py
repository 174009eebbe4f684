"""`hermes board copy --to URL`: a whole board into an empty database of either engine.

The copy is how a board moves from SQLite to PostgreSQL (or back, or between servers):
every table that holds the board's history and setup is copied row for row, keeping ids,
so cards, runs, events and chat cursors still point at each other. The live registry of
dispatchers is not copied (it describes processes attached to the old board).

The source is read in one snapshot and the target written in one transaction, in
batches: a copy that fails leaves the target as empty as it was. A target that holds
anything is refused, naming what it holds, so a copy never merges two boards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msgspec import Struct

from board.db import redact
from board.store import Store, open_store
from hermes.errors import InvalidInput

#: The copied tables, parents before children (foreign keys are checked as rows go in),
#: each with its key (the copy order) and whether that key is a sequence to move on.
TABLES: tuple[tuple[str, str, bool], ...] = (
    ("cards", "id", True),
    ("goals", "card_id", False),
    ("dependencies", "card_id, depends_on", False),
    ("runs", "id", True),
    ("events", "id", True),
    ("cron_jobs", "id", True),
    ("cron_events", "id", True),
    ("subscriptions", "id", True),
    ("chat_messages", "platform, chat, message", False),
    ("gateway_strangers", 'platform, "user"', False),
    ("gateway_state", "platform", False),
)
#: Columns PostgreSQL keeps as BOOLEAN, where SQLite hands back 0 and 1.
BOOLEANS = {("cron_jobs", "paused"), ("gateway_state", "connected")}
BATCH = 1000


class Copied(Struct, frozen=True):
    """What a copy moved: rows per table, in copy order."""

    target: str
    rows: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        """The `--json` document."""
        return {"to": self.target, "rows": self.rows}


def copy_board(
    source: Store, target_url: str, *, progress: Callable[[str, int], None] | None = None
) -> Copied:
    """Copy the board behind `source` into the empty board at `target_url` (made and
    migrated if it has no schema yet); refuses a target that holds anything."""
    target = open_store(target_url)
    try:
        held = _holdings(target)
        if held:
            raise InvalidInput(
                f"the target board {redact(target_url)} is not empty: it holds "
                + ", ".join(f"{table}: {count:,}" for table, count in held.items())
                + "; copy into an empty database"
            )
        rows: dict[str, int] = {}
        with source.db.read() as read, target.db.write() as write:
            # A copy is two long transactions, each idle while the other works (the
            # target between the source's reads, the source while a table is written);
            # a loaded machine once stalled one past the idle limit that protects the
            # board from frozen dispatchers. The target is empty and unused, and the
            # source's snapshot takes no row locks, so nothing waits on either.
            for side, db in ((write, target.db), (read, source.db)):
                if db.dialect == "postgresql":
                    side.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
            for table, key, sequence in TABLES:
                rows[table] = _copy_table(read, write, table, key, target.db.dialect)
                if progress is not None:
                    progress(table, rows[table])
                if sequence and rows[table] and target.db.dialect == "postgresql":
                    write.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
        return Copied(redact(target_url), rows)
    finally:
        target.close()


def _holdings(target: Store) -> dict[str, int]:
    """What the target already holds, by table (only the tables that hold something)."""
    held: dict[str, int] = {}
    for table, _, _ in (*TABLES, ("dispatchers", "id", False)):
        count = int(target.db.cx.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        if count:
            held[table] = count
    return held


def _copy_table(read: Any, write: Any, table: str, key: str, dialect: str) -> int:
    """Copy one table in batches of `BATCH` rows; returns how many."""
    cursor = read.tuples(f"SELECT * FROM {table} ORDER BY {key}")
    names = [column[0] for column in cursor.description]
    quoted = ", ".join(f'"{name}"' for name in names)
    params = ", ".join(f":c{i}" for i in range(len(names)))
    insert = f"INSERT INTO {table} ({quoted}) VALUES ({params})"
    booleans = [i for i, name in enumerate(names) if (table, name) in BOOLEANS]
    done = 0
    while batch := cursor.fetchmany(BATCH):
        values = []
        for row in batch:
            item = {f"c{i}": value for i, value in enumerate(row)}
            if dialect == "postgresql":
                for i in booleans:
                    if item[f"c{i}"] is not None:
                        item[f"c{i}"] = bool(item[f"c{i}"])
            values.append(item)
        write.executemany(insert, values)
        done += len(batch)
    return done
