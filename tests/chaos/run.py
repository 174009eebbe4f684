"""Run the chaos suite: build the board, start the fleet, let the monkey loose, recover,
run to idle, then check every invariant. `python -m tests.chaos --help` for the knobs."""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from board import NewCard, open_store
from board.clock import utcnow
from tests.chaos.dag import build_dag, closure
from tests.chaos.fleet import Fleet, Monkey
from tests.chaos.invariants import (
    Sampler,
    check_board,
    check_branches,
    check_worktrees,
    healthy_workers_kept_their_cards,
    leftover_processes,
    read_only,
)

LEASE = 2.0
#: Fast dispatcher settings (as in the acceptance tests), so a reclaim takes seconds.
SETTINGS = ["--tick", "1", "--heartbeat", "0.3", "--lease", f"{LEASE:g}", "--backoff", "0.1"]
SETTINGS += ["--backoff-max", "0.5", "--grace", "2"]
#: Every fault costs the card it hits an attempt; the monkey spares a card after ten.
MAX_ATTEMPTS = 50
GIT = {
    "GIT_AUTHOR_NAME": "Chaos",
    "GIT_AUTHOR_EMAIL": "chaos@example.com",
    "GIT_COMMITTER_NAME": "Chaos",
    "GIT_COMMITTER_EMAIL": "chaos@example.com",
}


@dataclass
class Outcome:
    """What a chaos run did and what it found wrong (nothing, if it passed)."""

    cards: int
    seconds: float
    actions: Counter[str]
    dispatcher_starts: int
    samples: int
    stalled: float
    runs: int
    violations: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A few lines for a person."""
        faults = ", ".join(f"{n} {what}" for what, n in sorted(self.actions.items())) or "none"
        lines = [
            f"{self.cards} cards in {self.seconds:.0f}s with {self.runs} runs",
            f"faults: {faults}; dispatcher starts: {self.dispatcher_starts}",
            f"board write lock held by a frozen process for {self.stalled:.1f}s in all",
            f"sampled invariants {self.samples} times; violations: {len(self.violations)}",
        ]
        return "\n".join(lines + [f"  {v}" for v in self.violations[:50]])


def run_chaos(
    home: Path,
    cards: int = 150,
    dispatchers: int = 3,
    concurrency: int = 4,
    seed: int = 0,
    chaos_share: float = 0.8,
    say: bool = False,
    db_url: str | None = None,
    hosts: bool = False,
) -> Outcome:
    """The whole scenario in `home` (a fresh HERMES_HOME); returns what it found.

    Faults go on until `chaos_share` of the cards are done; then everything is thawed
    and restarted and the board runs to idle. The board is `db_url` (default: SQLite in
    `home`); with `hosts`, every dispatcher is a host of its own (its HERMES_HOST and
    HERMES_HOME) and the monkey kills and freezes whole hosts: a dispatcher with all
    its workers.
    """
    rng = random.Random(seed)
    repo = _make_repo(home / "repo")
    db = db_url or f"sqlite:///{home / 'board.db'}"
    deps = _add_cards(db, repo, rng, cards)
    started = time.monotonic()
    settings = [*SETTINGS, "--concurrency", str(concurrency)]
    fleet = Fleet(home, dispatchers, settings, {**GIT, "HERMES_DB_URL": db}, hosts=hosts)
    monkey = Monkey(fleet, db, rng, LEASE)
    # A whole host killed leaves its runs to the other hosts, which judge them by lease
    # alone; a dispatcher that was itself frozen (or starved of CPU) trusts no expired lease
    # until it has run steadily for one lease (dispatcher/loop.py `_unsteady`), and with
    # hosts frozen and killed this often, the others may all be in that state: allow a
    # second lease there.
    # There, with four hosts' processes on two CPUs, a reclaim once came 5.1 s after the
    # worker died (two leases and 1.1 s): the slack is 2 s.
    sampler = Sampler(db, LEASE, leases=2.0 if hosts else 1.0, slack=2.0 if hosts else 1.0)
    violations: list[str] = []
    try:
        fleet.start_all()
        sampler.start()
        _note(say, f"{cards} cards, {dispatchers} dispatchers x {concurrency}; chaos starts")
        while _done(db) < chaos_share * cards:
            monkey.settle()
            monkey.act()
            time.sleep(rng.uniform(0.15, 0.6))
        _note(say, f"chaos over after {time.monotonic() - started:.0f}s; recovering")
        monkey.settle(everything=True)
        deadline = time.monotonic() + 60 + cards * 0.5
        while _done(db) < cards and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(LEASE)  # sample the idle board a little longer
        sampler.stop()
        codes = fleet.stop()
        violations += [f"dispatcher {i} exited {c} on SIGTERM" for i, c in enumerate(codes) if c]
    finally:
        sampler.stopping.set()
        fleet.kill_everything()
    seconds = time.monotonic() - started
    violations += sampler.violations
    violations += check_board(db, deps)
    ancestors = {card: closure(deps, card) for card in deps}
    if hosts:
        violations += check_branches(repo, ancestors)
    else:
        violations += check_worktrees(db, repo, home / "worktrees", ancestors)
    violations += leftover_processes(db)
    violations += healthy_workers_kept_their_cards(db, monkey.hit)
    runs = _count(db, "SELECT count(*) FROM runs")
    return Outcome(
        cards,
        seconds,
        monkey.actions,
        fleet.starts,
        sampler.samples,
        sampler.stalled,
        runs,
        violations,
    )


def _make_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    env = {**os.environ, **GIT}
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "start"]):
        subprocess.run(["git", *args], cwd=path, env=env, check=True)
    return path


def _add_cards(db: str, repo: Path, rng: random.Random, size: int) -> dict[int, list[int]]:
    """The DAG on the board; each card writes out/card-<id>.txt in its worktree."""
    nodes = build_dag(rng, size)
    ids: list[int] = []
    now = utcnow()
    body = 'sleep {s}; mkdir -p out; echo "$HERMES_RUN_ID" > "out/card-$HERMES_CARD_ID.txt"'
    with open_store(db) as store:
        for n, node in enumerate(nodes):
            card = NewCard(
                f"chaos {n}",
                "shell",
                MAX_ATTEMPTS,
                body=body.format(s=node.seconds),
                priority=node.priority,
                after=[ids[d] for d in node.deps],
                repo=str(repo),
                base="main",
            )
            ids.append(store.add_card(card, now)[0])
    return {ids[n]: [ids[d] for d in node.deps] for n, node in enumerate(nodes)}


def _count(db: str, sql: str) -> int:
    cx = read_only(db)
    try:
        return int(cx.execute(sql).fetchone()[0])
    finally:
        cx.close()


def _done(db: str) -> int:
    return _count(db, "SELECT count(*) FROM cards WHERE status = 'done'")


def _note(say: bool, text: str) -> None:
    if say:
        print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point: exit 0 when every invariant held, 1 when one did not."""
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--cards", type=int, default=1000, help="cards in the DAG (1000)")
    parser.add_argument("--dispatchers", type=int, default=3, help="dispatchers (3)")
    parser.add_argument("--concurrency", type=int, default=4, help="workers each (4)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (random)")
    parser.add_argument("--home", type=Path, default=None, help="keep the board here")
    args = parser.parse_args(argv)
    if args.cards < 1 or args.dispatchers < 2 or args.concurrency < 1:
        parser.error("--cards and --concurrency must be at least 1, --dispatchers at least 2")
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    home = args.home or Path(tempfile.mkdtemp(prefix="hermes-chaos-"))
    if home.exists() and any(home.iterdir()):
        parser.error(f"--home {home} is not empty; give a new directory")
    home.mkdir(parents=True, exist_ok=True)
    os.environ["HERMES_HOME"] = str(home)
    print(f"seed {seed}; board and logs in {home}", flush=True)
    outcome = run_chaos(home, args.cards, args.dispatchers, args.concurrency, seed, say=True)
    print(outcome.summary())
    return 1 if outcome.violations else 0


if __name__ == "__main__":
    sys.exit(main())
