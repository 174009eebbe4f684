"""Rules for data that lives outside files: databases and container volumes.

A database client is harmless until the SQL it is given drops, truncates or deletes; so
the SQL is looked for wherever a client reads it from: its arguments, a heredoc, a
here-string, a file fed with `-f` or `<`, or the command piping into it. A local SQLite
file inside the workspace is the agent's own and may be changed freely. Container
pruning is judged by what it loses: volumes are data (high), images and stopped
containers can be rebuilt (medium).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator

from workers.gate.argv import parse_options
from workers.gate.command import Command
from workers.gate.paths import Places, where
from workers.gate.verdict import Risk
from workers.gate.words import Word, values

Found = Iterator[Risk | None]
SQL = re.compile(
    r"\b(?:drop\s+(?:table|database|schema|index|view|materialized\s+view|user|role|owned"
    r"|function|procedure|trigger|sequence|type|extension|keyspace)\b"
    r"|truncate\s+(?:table\s+)?(?=[\w\"`\[])|delete\s+from\b|alter\s+table\s+\S+\s+drop\b)",
    re.IGNORECASE,
)
UPDATE = re.compile(r"\bupdate\s+[\w.\"`\[\]]+\s+set\b", re.IGNORECASE)
WHERE = re.compile(r"\bwhere\b", re.IGNORECASE)
MONGO = re.compile(r"\b(?:dropDatabase|deleteMany|deleteOne|remove|drop|dropIndexes)\s*\(")
REDIS = frozenset(("flushall", "flushdb", "del", "unlink"))
FILE_DBS = frozenset(("sqlite3", "sqlite", "duckdb", "litecli"))
SQLITE_VALUES = frozenset(("-cmd", "-separator", "-newline", "-nullvalue", "-init", "-vfs"))
FEEDERS = frozenset(("echo", "printf", "cat"))
MAX_READ = 1 << 20
RAILS_TASKS = frozenset(
    (
        "db:drop",
        "db:reset",
        "db:purge",
        "db:truncate_all",
        "db:schema:load",
        "db:migrate:reset",
        "db:seed:replant",
        "db:drop:all",
    )
)
DJANGO = frozenset(("flush", "reset_db", "sqlflush"))


def destructive_sql(text: str) -> str | None:
    """The first statement in `text` that drops or deletes data, if any."""
    match = SQL.search(text)
    if match is not None:
        return match.group().strip()
    for statement in text.split(";"):
        update = UPDATE.search(statement)
        if update is not None and not WHERE.search(statement, update.end()):
            return "UPDATE without WHERE"
    return None


def texts(cmd: Command) -> Iterator[str]:
    """Everything a client may read commands from: args, stdin, files, a feeding echo."""
    yield from (w.text for w in cmd.args)
    yield from (w.text for w in cmd.stdin)
    for redirect in cmd.redirects:
        if redirect.op == "<":
            yield _read(redirect.target, cmd)
    for flag, value in zip(cmd.args, cmd.args[1:], strict=False):
        if flag.value in ("-f", "--file", "-i", "--source"):
            yield _read(value, cmd)
    for feeder in cmd.upstream[-1:]:
        if feeder.prog in FEEDERS:
            yield from texts(feeder)


def _read(word: Word, cmd: Command) -> str:
    """The start of a regular file a client reads SQL from (never a FIFO or a device)."""
    loc = cmd.locate(word)
    if loc.path is None or loc.pattern or loc.path.startswith(("/dev/", "/proc/", "/sys/")):
        return ""
    try:
        if not stat.S_ISREG(os.stat(loc.path).st_mode):
            return ""
        with open(loc.path, encoding="utf-8", errors="replace") as handle:
            return handle.read(MAX_READ)
    except OSError:
        return ""


def sql_client(cmd: Command, places: Places) -> Found:
    """`psql -c 'drop table x'`, `mysql <<SQL ... SQL`, `sqlite3 ~/app.db 'delete...'`."""
    if cmd.prog in FILE_DBS and _own_file(cmd, places):
        return
    for text in texts(cmd):
        found = destructive_sql(text)
        if found is not None:
            yield Risk("high", f"drops or deletes data ({cmd.prog}: {found})")
            return


def _own_file(cmd: Command, places: Places) -> bool:
    """Whether an SQLite/DuckDB client works on a file in the workspace (or in memory)."""
    args = list(cmd.args)
    operands = []
    for i, word in enumerate(args):
        text = word.value or ""
        if text.startswith("-") or (i and (args[i - 1].value or "") in SQLITE_VALUES):
            continue
        operands.append(word)
    if not operands or operands[0].value in (":memory:", ""):
        return True
    return where(cmd.locate(operands[0]), places) in ("inside", "temp")


def mongo(cmd: Command, places: Places) -> Found:
    """`mongosh --eval 'db.x.drop()'` and friends."""
    for text in texts(cmd):
        found = MONGO.search(text)
        if found is not None:
            yield Risk("high", f"drops or deletes data ({cmd.prog}: {found.group()})")
            return


def redis(cmd: Command, places: Places) -> Found:
    """`redis-cli FLUSHALL`, `redis-cli del key`."""
    words = [t.lower() for t in values(list(cmd.args))]
    words += [line.split()[0].lower() for w in cmd.stdin for line in w.text.splitlines() if line]
    found = next((w for w in words if w in REDIS), None)
    if found is not None:
        yield Risk("high", f"deletes data in Redis ({found.upper()})")


def dropdb(cmd: Command, places: Places) -> Found:
    """`dropdb`, `dropuser`: PostgreSQL's own drop commands."""
    yield Risk("high", f"drops data ({cmd.line})")


def frameworks(cmd: Command, places: Places) -> Found:
    """`rails db:drop`, `manage.py flush`, `prisma migrate reset` and the like."""
    words = values(list(cmd.argv))
    tasks = RAILS_TASKS.intersection(words)
    if tasks and cmd.prog in ("rails", "rake"):
        yield Risk("high", f"drops data ({cmd.prog} {sorted(tasks)[0]})")
    manage = next((i for i, w in enumerate(words) if w.endswith("manage.py")), None)
    if manage is not None and DJANGO.intersection(words[manage + 1 : manage + 2]):
        yield Risk("high", f"drops data (manage.py {words[manage + 1]})")
    if cmd.prog == "django-admin" and DJANGO.intersection(words[1:2]):
        yield Risk("high", f"drops data (django-admin {words[1]})")
    if cmd.prog == "prisma" and _prisma_resets(words):
        yield Risk("high", f"drops data ({cmd.line})")
    if cmd.prog in ("flyway", "liquibase") and {"clean", "drop-all", "dropAll"} & set(words):
        yield Risk("high", f"drops data ({cmd.line})")


def _prisma_resets(words: list[str]) -> bool:
    if words[1:3] == ["migrate", "reset"]:
        return True
    return words[1:3] == ["db", "push"] and bool(
        {"--force-reset", "--accept-data-loss"} & set(words)
    )


def containers(cmd: Command, places: Places) -> Found:
    """docker/podman: pruning volumes is high; images, containers, networks medium."""
    opts = parse_options(cmd.args, "Hcl", ("host", "context", "config", "log-level"))
    words = values(opts.operands)
    if words[:1] == ["compose"] or cmd.prog == "docker-compose":
        yield from _compose(words[1:] if words[:1] == ["compose"] else words, cmd)
        return
    sub = " ".join(words[:2])
    if sub in ("system prune", "volume prune", "volume rm", "volume remove"):
        yield Risk("high", f"{cmd.prog} {sub} deletes volumes and their data")
    elif sub in MEDIUM_DOCKER or words[:1] in (["rm"], ["rmi"]):
        yield Risk("medium", f"{cmd.prog} {sub} removes containers, images or networks")
    if words[:1] == ["push"] or sub in ("image push", "manifest push"):
        yield Risk("high", f"publishes an image ({cmd.line})")
    if words[:2] == ["buildx", "build"] and "--push" in words:
        yield Risk("high", f"publishes an image ({cmd.line})")


def _compose(words: list[str], cmd: Command) -> Found:
    """`docker compose [-f FILE] [-p NAME] down -v`, `rm`, `push`."""
    rest, skip = [], False
    for word in words:
        if skip or word in COMPOSE_VALUES:
            skip = not skip and word in COMPOSE_VALUES
            continue
        if not word.startswith("-"):
            rest.append(word)
    if rest[:1] == ["down"] and ({"-v", "--volumes"} & set(words) or _cluster(words, "v")):
        yield Risk("high", "docker compose down -v deletes volumes and their data")
    elif rest[:1] == ["rm"]:
        yield Risk("medium", "docker compose rm removes containers")
    elif rest[:1] == ["push"]:
        yield Risk("high", f"publishes an image ({cmd.line})")


def _cluster(words: list[str], letter: str) -> bool:
    return any(w.startswith("-") and not w.startswith("--") and letter in w for w in words)


COMPOSE_VALUES = frozenset(
    ("-f", "--file", "-p", "--project-name", "--profile", "--env-file", "--project-directory")
)
MEDIUM_DOCKER = frozenset(
    (
        "container prune", "image prune", "builder prune", "network prune", "network rm",
        "container rm", "image rm", "buildx prune", "rmi",
    )
)  # fmt: skip
