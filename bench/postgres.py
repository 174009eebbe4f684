"""The PostgreSQL engine: claims+completes per second with 1, 4 and 8 claiming processes
(each figure next to SQLite's with as many processes, and next to raw UPDATE/COMMIT
pairs on the same server with as many processes), and ready -> claimed latency through
LISTEN/NOTIFY (next to the 20 ms goal).

The server is a throwaway cluster started here (`tests.helpers.postgres`, a unix socket
in a temporary folder, fsync off as in the tests): the figures compare the engine with
its own server's floor, not with a tuned production server. Skipped, with a row saying
so, when PostgreSQL is not installed.

`python -m bench.postgres raw URL ROW PAIRS GO` and `python -m bench.postgres listen URL`
are the helper processes this section starts.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, Row, Size, percentile, pick, wait_for
from board import NewCard, open_store
from board.clock import parse_iso, utcnow

SECTION = "postgres"
PROCESSES = (1, 4, 8)
GOAL_MS = 20.0


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERMES_")}
    return {**env, "PYTHONPATH": str(ROOT)}


def claims_per_second(url: str, cards: int, processes: int, go: Path) -> float:
    """`cards` ready cards, `processes` claimers claiming and completing until none is
    left (`tests.helpers.claimer`): cards per second of wall time."""
    with open_store(url) as store:
        now = utcnow()
        for n in range(cards):
            store.add_card(NewCard(f"card {n}", "shell", 3, priority=n % 5), now)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.claimer", url, str(go)],
            stdout=subprocess.PIPE,
            env=_env(),
            cwd=ROOT,
        )
        for _ in range(processes)
    ]
    time.sleep(0.5 + 0.1 * processes)  # let them import and connect
    start = time.perf_counter()
    go.touch()
    claimed = sum(len(json.loads(proc.communicate(timeout=600)[0])) for proc in procs)
    seconds = time.perf_counter() - start
    go.unlink()
    assert claimed == cards, f"{claimed} claims for {cards} cards"
    return cards / seconds


def raw_pairs_per_second(url: str, pairs: int, processes: int, go: Path) -> float:
    """The server's floor: `processes` connections each committing `pairs` pairs of
    one-row UPDATE transactions (a claim and a complete are two transactions)."""
    import psycopg

    from board.postgres import libpq_url

    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS raw (id BIGINT PRIMARY KEY, v BIGINT)")
        conn.execute("TRUNCATE raw")
        conn.execute("INSERT INTO raw SELECT g, 0 FROM generate_series(1, %s) g", (processes,))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.postgres", "raw", url, str(i + 1), str(pairs), str(go)],
            env=_env(),
            cwd=ROOT,
        )
        for i in range(processes)
    ]
    time.sleep(0.3 + 0.05 * processes)
    start = time.perf_counter()
    go.touch()
    for proc in procs:
        proc.wait(timeout=600)
    seconds = time.perf_counter() - start
    go.unlink()
    return processes * pairs / 2 / seconds  # pairs of transactions, as claim+complete


def _raw(url: str, row: int, pairs: int, go: Path) -> None:
    import psycopg

    from board.postgres import libpq_url

    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        while not go.exists():
            time.sleep(0.002)
        for _ in range(pairs):
            conn.execute("BEGIN")
            conn.execute("UPDATE raw SET v = v + 1 WHERE id = %s", (row,))
            conn.execute("COMMIT")


def notify_latency(url: str, cards: int) -> list[float]:
    """Milliseconds from a card made ready to its claim by a waiting process that
    is woken by the LISTEN socket (as the dispatcher is), one card at a time."""
    listener = subprocess.Popen(
        [sys.executable, "-m", "bench.postgres", "listen", url],
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=ROOT,
    )
    assert listener.stdout is not None and listener.stdin is not None
    assert listener.stdout.readline().strip() == "listening"
    with open_store(url) as store:
        for n in range(cards):
            store.add_card(NewCard(f"latency {n}", "shell", 3), utcnow())
            listener.stdout.readline()  # claimed: the next card goes on an idle board
            time.sleep(0.01)
        # both moments by the server's clock: the card stamped as it was made ready (in
        # its transaction, before the commit) and its run as the claim was made
        rows = store.db.cx.execute(
            "SELECT c.created_at, r.started_at FROM cards c JOIN runs r ON r.card_id = c.id"
        ).fetchall()
    listener.stdin.close()
    listener.wait(timeout=30)
    return [(parse_iso(run) - parse_iso(made)).total_seconds() * 1e3 for made, run in rows]


def dispatcher_latency(url: str, cards: int, home: Path) -> list[float]:
    """The same through a real `hermes dispatcher start` (its board watch on the LISTEN
    socket), shell cards run one at a time: milliseconds from made ready to claimed."""
    home.mkdir(parents=True, exist_ok=True)
    env = {**_env(), "HERMES_HOME": str(home), "HERMES_DB_URL": url}
    dispatcher = subprocess.Popen(
        [sys.executable, "-m", "hermes", "dispatcher", "start", "--concurrency", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
    )
    try:
        with open_store(url) as store:
            wait_for(lambda: store.dispatchers(utcnow()), timeout=60)  # registered
            time.sleep(1.0)  # and its worker template warm
            for n in range(cards):
                card, _ = store.add_card(NewCard(f"d{n}", "shell", 3, body="true"), utcnow())
                wait_for(lambda card=card: store.card(card).status == "done", timeout=60)
            rows = store.db.cx.execute(
                "SELECT c.created_at, r.started_at FROM cards c JOIN runs r ON r.card_id = c.id"
            ).fetchall()
    finally:
        dispatcher.terminate()
        dispatcher.wait(timeout=60)
    return [(parse_iso(run) - parse_iso(made)).total_seconds() * 1e3 for made, run in rows]


def _listen(url: str) -> None:
    """Claim each card as soon as the board says something changed; print when."""
    store = open_store(url)
    socket = store.db.fileno()
    assert socket is not None
    seen = store.data_version()
    print("listening", flush=True)
    while True:
        readable, _, _ = select.select([socket, sys.stdin], [], [], 1.0)
        if sys.stdin in readable:
            return
        version = store.data_version()
        if version == seen:
            continue
        seen = version
        while (claim := store.claim(utcnow(), 60, worker="bench")) is not None:
            print(time.time(), flush=True)
            store.complete(claim.run_id, utcnow(), result="ok")
            seen = store.data_version()  # our own complete announced itself too


def run(workdir: Path, size: Size) -> list[Row]:
    """Every PostgreSQL figure, each next to its reference."""
    from tests.helpers.postgres import start_cluster

    cluster = start_cluster()
    if cluster is None:
        return [Row(SECTION, "skipped: PostgreSQL is not installed", 0, "")]
    cards, pairs, samples = pick(size, (40, 40, 20), (400, 400, 100), (2000, 1000, 300))
    go = workdir / "go"
    rows: list[Row] = []
    try:
        for n in PROCESSES:
            pg = claims_per_second(cluster.new_board(f"claims{n}"), cards, n, go)
            lite = claims_per_second(f"sqlite:///{workdir / f'claims{n}.db'}", cards, n, go)
            raw = raw_pairs_per_second(cluster.new_empty(f"raw{n}"), pairs, n, go)
            rows.append(
                Row(SECTION, f"claim+complete, {n} claimer(s)", pg, "/s", raw,
                    f"raw UPDATE/COMMIT pairs, {n} connection(s), same server")
            )  # fmt: skip
            rows.append(
                Row(SECTION, f"  the same on SQLite, {n} claimer(s)", lite, "/s", pg,
                    "PostgreSQL, the line above")
            )  # fmt: skip
        latencies = notify_latency(cluster.new_board("latency"), samples)
        for p in (50, 99):
            rows.append(
                Row(SECTION, f"ready -> claimed through LISTEN/NOTIFY, p{p}",
                    percentile(latencies, p), "ms", GOAL_MS, "the goal (setting)")
            )  # fmt: skip
        board = cluster.new_board("dispatcher")
        latencies = dispatcher_latency(board, samples // 2, workdir / "home")
        for p in (50, 99):
            rows.append(
                Row(SECTION, f"  the same through hermes dispatcher start, p{p}",
                    percentile(latencies, p), "ms", GOAL_MS, "the goal (setting)")
            )  # fmt: skip
    finally:
        cluster.stop()
    return rows


def main(argv: list[str]) -> None:
    """The helper processes: `raw URL ROW PAIRS GO` and `listen URL`."""
    if argv[0] == "raw":
        _raw(argv[1], int(argv[2]), int(argv[3]), Path(argv[4]))
    elif argv[0] == "listen":
        _listen(argv[1])


if __name__ == "__main__":
    main(sys.argv[1:])
