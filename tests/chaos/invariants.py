"""What must hold under chaos, sampled while the board runs and checked at the end.

Sampled (every `every` seconds, each sample one read transaction, one snapshot):
- a card has at most one live run, and a card is running (or waiting for input)
  exactly when it has one;
- no live run keeps its lease more than lease + 1 s after its worker process died,
  counting only time the board could be written: a process frozen while it holds
  SQLite's write lock stops every writer (no one can take anything back) until it is
  thawed, so that time is measured (a write-lock probe per sample) and reported.

At the end, from the database, the event log and git:
- every card is done, by exactly one successful run, and no run is still live;
- no healthy worker lost its card: every run taken back had a worker the monkey killed
  or froze (or none yet, its dispatcher killed between claim and start);
- per card, every claim is followed by the end of that run before the next claim (at
  most one live run per card at any moment, in commit order);
- no card was claimed before each of its dependencies was done;
- each card's events form a path through the state machine's transition table;
- every worktree on disk is recorded by its card, git knows exactly those, and each
  card's branch holds the files of the card and of everything it depended on;
- no worker or runner process recorded on the board is still alive.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from board.db import engine_of, sqlite_path
from board.postgres import libpq_url
from board.status import ACTION_OF_KIND, Status, is_allowed
from tests.chaos.fleet import ours

#: Events that end a run (they carry its run id).
RUN_ENDS = {"completed", "failed", "reclaimed", "released", "cancelled", "planned"}


def gone(pid: int) -> bool:
    """Whether a process has exited (a zombie, not yet reaped, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


#: A board: a SQLite file, or a board URL (SQLite or PostgreSQL).
Board = Path | str


def read_only(db: Board) -> Any:
    """A connection for reading the board (read-only on SQLite), in autocommit mode for
    explicit BEGIN; plain SQL without parameters only, the same on both engines."""
    if isinstance(db, str):
        if engine_of(db) == "postgresql":
            import psycopg

            return psycopg.connect(libpq_url(db), autocommit=True)
        db = sqlite_path(db)
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10, isolation_level=None)


def _snapshot(cx: Any) -> None:
    """Begin a read transaction that sees one snapshot on either engine."""
    postgres = not isinstance(cx, sqlite3.Connection)
    cx.execute("BEGIN ISOLATION LEVEL REPEATABLE READ" if postgres else "BEGIN")


@dataclass(eq=False)
class Sampler(threading.Thread):
    """Watches the board from the side while the dispatchers and the monkey work."""

    db: Board
    lease: float
    every: float = 0.1
    #: leases a dead worker's run may outlive (plus `slack`): one, unless the only ones who
    #: can take it back judge by lease alone after a pause of their own (see run.py)
    leases: float = 1.0
    slack: float = 1.0  # seconds, for the reclaiming dispatcher's own wake and the sampling
    violations: list[str] = field(default_factory=list)
    samples: int = 0
    stalled: float = 0.0  # seconds the board's write lock could not be had
    dead_since: dict[int, float] = field(default_factory=dict)  # run -> stall-free clock
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        super().__init__(name="chaos-sampler", daemon=True)

    def run(self) -> None:
        """Sample until stopped."""
        cx = read_only(self.db)
        # SQLite's one write lock, which a frozen process can hold; PostgreSQL has row
        # locks only, and ends a session left idle in a transaction (no board-wide stall)
        path = _sqlite_file(self.db)
        probe = None if path is None else sqlite3.connect(path, timeout=0.25, isolation_level=None)
        last = time.monotonic()
        try:
            while not self.stopping.wait(self.every):
                if probe is not None and not _lock_free(probe):
                    self.stalled += time.monotonic() - last
                last = time.monotonic()
                self.sample(cx)
        finally:
            cx.close()
            if probe is not None:
                probe.close()

    def stop(self) -> None:
        """Stop sampling and wait for the thread."""
        self.stopping.set()
        self.join()

    def sample(self, cx: Any) -> None:
        """One consistent look at the live runs and the cards they belong to."""
        _snapshot(cx)
        try:
            live = cx.execute("SELECT id, card_id, pid FROM runs WHERE outcome = 'running'")
            live_runs = live.fetchall()
            busy = dict(
                cx.execute(
                    "SELECT id, status FROM cards WHERE status IN ('running', 'needs_input')"
                )
            )
        finally:
            cx.execute("COMMIT")
        self.samples += 1
        now = time.monotonic() - self.stalled  # a clock that stops while the board stalls
        per_card: dict[int, list[int]] = {}
        for run_id, card_id, _ in live_runs:
            per_card.setdefault(card_id, []).append(run_id)
        for card_id, runs in per_card.items():
            if len(runs) > 1:
                self.violations.append(f"card {card_id} had {len(runs)} live runs: {runs}")
            if card_id not in busy:
                self.violations.append(f"card {card_id} has live run {runs} but is not running")
        for card_id, status in busy.items():
            if card_id not in per_card:
                self.violations.append(f"card {card_id} is {status} without a live run")
        limit = self.leases * self.lease + self.slack
        for run_id, card_id, pid in live_runs:
            if pid is None or not gone(pid):
                continue
            since = self.dead_since.setdefault(run_id, now)
            if now - since > limit:
                self.violations.append(
                    f"run {run_id} of card {card_id} held its lease {now - since:.1f}s "
                    f"after its worker pid {pid} died (limit {limit:g}s)"
                )
                self.dead_since[run_id] = float("inf")  # report each run once


def _sqlite_file(db: Board) -> Path | None:
    """The board's file if it is a SQLite board."""
    if isinstance(db, Path):
        return db
    return sqlite_path(db) if engine_of(db) == "sqlite" else None


def _lock_free(probe: sqlite3.Connection) -> bool:
    """Whether the write lock can be had within the probe's timeout (then let go)."""
    try:
        probe.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return False
    probe.execute("ROLLBACK")
    return True


def healthy_workers_kept_their_cards(db: Board, hit: set[int]) -> list[str]:
    """Every run taken back had a worker the monkey hit (`hit`: pids killed or frozen)."""
    cx = read_only(db)
    try:
        taken = cx.execute(
            "SELECT id, card_id, pid, error FROM runs WHERE outcome = 'reclaimed'"
        ).fetchall()
    finally:
        cx.close()
    return [
        f"run {run} of card {card} was taken back from a healthy worker {pid}: {error}"
        for run, card, pid, error in taken
        if pid is not None and pid not in hit
    ]


def check_board(db: Board, cards: dict[int, list[int]]) -> list[str]:
    """The end-state invariants over `cards` (card id -> the ids it depends on)."""
    cx = read_only(db)
    try:
        found = _statuses_and_runs(cx, cards)
        events = cx.execute(
            "SELECT id, card_id, run_id, kind, data FROM events ORDER BY id"
        ).fetchall()
    finally:
        cx.close()
    return found + _event_paths(events, cards)


def _statuses_and_runs(cx: Any, cards: dict[int, list[int]]) -> list[str]:
    found: list[str] = []
    statuses = dict(cx.execute("SELECT id, status FROM cards"))
    for card_id in cards:
        if statuses.get(card_id) != "done":
            found.append(f"card {card_id} ended {statuses.get(card_id)}, not done")
    for card_id, n in cx.execute(
        "SELECT card_id, count(*) FROM runs WHERE outcome = 'done' GROUP BY card_id"
    ):
        if n != 1:
            found.append(f"card {card_id} has {n} successful runs")
    live = cx.execute("SELECT id, card_id FROM runs WHERE outcome = 'running'").fetchall()
    found += [f"run {run} of card {card} is still live at the end" for run, card in live]
    return found


def _event_paths(
    events: list[tuple[int, int, int | None, str, str]], cards: dict[int, list[int]]
) -> list[str]:
    found: list[str] = []
    status: dict[int, Status | None] = {}
    live: dict[int, int] = {}  # card -> its live run, in commit order
    done_at: dict[int, int] = {}  # card -> the event id that made it done
    first_claim: dict[int, int] = {}
    for event_id, card_id, run_id, kind, data in events:
        payload = json.loads(data)
        if kind == "claimed":
            if card_id in live:
                found.append(
                    f"card {card_id}: run {run_id} claimed while run {live[card_id]} lived"
                )
            live[card_id] = run_id or 0
            first_claim.setdefault(card_id, event_id)
        elif kind in RUN_ENDS and run_id is not None and live.get(card_id) == run_id:
            del live[card_id]
        if "to" not in payload:
            continue
        src = Status(payload["from"]) if payload["from"] else None
        dst = Status(payload["to"])
        if status.get(card_id) != src or not is_allowed(src, dst, ACTION_OF_KIND[kind]):
            found.append(
                f"card {card_id}: event {event_id} {kind} {src} -> {dst} "
                f"does not follow {status.get(card_id)}"
            )
        status[card_id] = dst
        if dst is Status.DONE:
            done_at[card_id] = event_id
    for card_id, deps in cards.items():
        for dep in deps:
            claimed, finished = first_claim.get(card_id), done_at.get(dep)
            if claimed is not None and (finished is None or finished > claimed):
                found.append(f"card {card_id} was claimed before its dependency {dep} was done")
    return found


def check_worktrees(
    db: Board, repo: Path, worktrees: Path, cards: dict[int, set[int]]
) -> list[str]:
    """No orphan worktree, and every card's branch holds its own and its ancestors' files.

    `cards` maps each card id to every card id it waits for, directly or not.
    """
    cx = read_only(db)
    try:
        recorded = {
            path: card
            for card, path in cx.execute(
                "SELECT id, worktree FROM cards WHERE worktree IS NOT NULL"
            )
        }
    finally:
        cx.close()
    found: list[str] = []
    on_disk = {str(p) for p in worktrees.glob("*/card-*") if p.is_dir()}
    found += [f"orphan worktree {path}" for path in sorted(on_disk - set(recorded))]
    found += [
        f"card {recorded[p]} records {p}, which is gone" for p in sorted(set(recorded) - on_disk)
    ]
    listed = _git(repo, "worktree", "list", "--porcelain")
    known = {line.split(" ", 1)[1] for line in listed.splitlines() if line.startswith("worktree ")}
    known.discard(str(repo))
    found += [f"git knows worktree {p}, which no card records" for p in sorted(known - on_disk)]
    found += [f"git does not know worktree {p}" for p in sorted(on_disk - known)]
    return found + check_branches(repo, cards)


def check_branches(repo: Path, cards: dict[int, set[int]]) -> list[str]:
    """Every card's branch holds its own and its ancestors' files (`cards` as in
    `check_worktrees`). With several hosts, each keeps worktrees of its own: a card
    finished elsewhere leaves a copy behind on a host that died holding it, which that
    host's next start tidies, so only the branches are judged there."""
    found: list[str] = []
    for card, waits_for in cards.items():
        files = _git(repo, "ls-tree", "-r", "--name-only", f"hermes/card-{card}").split()
        missing = {f"out/card-{c}.txt" for c in {card, *waits_for}} - set(files)
        if missing:
            found.append(f"branch of card {card} lacks {', '.join(sorted(missing))}")
    return found


def leftover_processes(db: Board) -> list[str]:
    """Every worker and runner process recorded on the board has exited."""
    cx = read_only(db)
    try:
        pids = cx.execute("SELECT id, pid, runner_pid FROM runs").fetchall()
    finally:
        cx.close()
    return [
        f"run {run}: process {pid} is still alive"
        for run, worker, runner in pids
        for pid in (worker, runner)
        if pid is not None and not gone(pid) and ours(pid)
    ]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True).stdout
