"""A throwaway PostgreSQL server for tests and benchmarks: one cluster in a temporary
directory, listening only on a unix socket there, fast and unsafe (fsync, synchronous
commit and full page writes off), stopped with `pg_ctl stop -m immediate` and deleted.

`initdb` refuses to run as root, so as root the cluster belongs to the `postgres` user
(its directory is handed to it) and the server runs through `runuser`. Boards are
databases made from a template that already has every migration, which takes a few
milliseconds instead of a migration's hundreds.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

TEMPLATE = "hermes_template"
_names = itertools.count(1)


def bin_dir() -> Path | None:
    """The newest installed PostgreSQL's programs (`/usr/lib/postgresql/*/bin`), or the
    ones on PATH, or None when there is no `initdb`."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _fast_dir() -> str | None:
    """Where the cluster lives: memory (`/dev/shm`) where there is room, so making a
    database from the template is a copy in RAM; the default temporary folder otherwise."""
    shm = Path("/dev/shm")
    try:
        stats = os.statvfs(shm)
    except OSError:
        return None
    roomy = stats.f_bavail * stats.f_frsize > 2 * 1024**3 and os.access(shm, os.W_OK)
    return str(shm) if roomy else None


def _version(path: str) -> float:
    try:
        return float(Path(path).parent.parent.name)
    except ValueError:
        return 0.0


class Cluster:
    """A PostgreSQL server of our own; `url(name)` names a database in it."""

    def __init__(self, programs: Path, root: Path | None = None) -> None:
        self.programs = programs
        self.root = root or Path(tempfile.mkdtemp(prefix="hermes-pg-", dir=_fast_dir()))
        self.data = self.root / "data"
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self.running = False

    def _as_owner(self, *args: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *args]
        return list(args)

    def _run(self, *args: str) -> None:
        result = subprocess.run(self._as_owner(*args), capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed:\n{result.stdout}\n{result.stderr}")

    def start(self) -> Cluster:
        """initdb, then start the server on a socket in `root`; returns self."""
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self._run(
            str(self.programs / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = (
            f"-k {self.root} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=300 -c shared_buffers=64MB"
        )
        self._run(
            str(self.programs / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )
        self.running = True
        return self

    def url(self, database: str = "postgres") -> str:
        """The URL of a database in this cluster (a unix socket: `?host=DIR`)."""
        return f"postgresql://{self.user}@/{database}?host={self.root}"

    def admin(self, *statements: str) -> None:
        """Run statements outside any transaction (CREATE DATABASE cannot be in one)."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def make_template(self) -> None:
        """The template database, with every migration applied."""
        from board import open_store

        self.admin(f"CREATE DATABASE {TEMPLATE}")
        open_store(self.url(TEMPLATE)).close()
        self.admin(f"ALTER DATABASE {TEMPLATE} WITH IS_TEMPLATE true")

    def new_board(self, prefix: str = "board") -> str:
        """A new database holding an empty, migrated board; returns its URL."""
        name = f"{prefix}_{os.getpid()}_{next(_names)}"
        self.admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} STRATEGY FILE_COPY")
        return self.url(name)

    def new_empty(self, prefix: str = "empty") -> str:
        """A new database with no schema at all; returns its URL."""
        name = f"{prefix}_{os.getpid()}_{next(_names)}"
        self.admin(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop(self, url: str) -> None:
        """Drop the database a URL names (its sessions are ended first)."""
        name = url.split("?")[0].rsplit("/", 1)[-1]
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        """Stop the server at once and delete everything it had."""
        if self.running:
            subprocess.run(
                self._as_owner(
                    str(self.programs / "pg_ctl"), "-D", str(self.data), "stop", "-m", "immediate"
                ),
                capture_output=True,
                timeout=60,
            )
            self.running = False
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> Cluster | None:
    """A running cluster with the board template made, or None when PostgreSQL's
    programs are not installed."""
    programs = bin_dir()
    if programs is None:
        return None
    cluster = Cluster(programs)
    try:
        cluster.start()
        cluster.make_template()
    except BaseException:
        cluster.stop()
        raise
    return cluster
