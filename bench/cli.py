"""CLI: the wall time of every read command and of `hermes board add` on a board of
1,000 cards, each next to `python -c pass` (the interpreter's own start-up) measured in
the same run, and the in-process work of the heaviest view next to the store call alone.

The board holds what people have: chains of cards waiting on each other, ready ones, a
few running and paused on a human, finished ones with runs, a goal with its children and
a few cron jobs. Commands run as a person runs them (a subprocess, stdout to a pipe),
with Python's bytecode cache in a folder of the run (an installed hermes has its `.pyc`
files; a fresh checkout with `PYTHONDONTWRITEBYTECODE` would compile on every start).

Run with `python -m bench cli`; the budgets are 200 ms per read command and 150 ms for
`board add`.

Where the time went before (`-X importtime`, cProfile; `board list` of 1,000 cards took
0.8 s): rich laying out the table (about 0.5 s: measuring and cropping every cell), rich
itself (80 ms to import), the views module importing `profiles` and so pydantic (90 ms)
for every view, and typer building click's command for all fifty commands on every run
(40 ms of `inspect.signature` and `get_type_hints`). Now the views are drawn by
`hermes.cli.text` (1,000 rows in about 13 ms), rich and pydantic load only for the views
that need them, and only the command being run is built. Later, defining the board's
dataclasses (Python 3.11 compiles their methods as each class is defined) was found to
take a third of the imports: the records are msgspec structs now. What is left is the
interpreter, typer with the standard library it imports, and hermes's own modules
(docs/performance.md, "Command line", has the instruction counts).
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench.common import Row, Size, hermes_env, median_time, pick, time_command
from board import CardFilter, NewCard, Store, open_store
from board.clock import utcnow
from board.cron_ops import NewJob

SECTION = "cli"
PYTHON_IS = "python -c pass (interpreter start-up)"
APPROVAL = {"kind": "approval", "command": "git push --force origin main", "risk": "high"}


def build(home: Path, cards: int) -> tuple[int, int]:
    """A board of `cards` cards; returns (a paused card's id, the goal's id)."""
    home.mkdir(parents=True, exist_ok=True)
    store = open_store(f"sqlite:///{home / 'board.db'}", synchronous="OFF")
    try:
        now = utcnow()
        goal, _ = store.add_card(NewCard("Ship CSV export", "planner", 3, budget=5), now)
        for n in range(20):
            store.add_card(NewCard(f"Step {n} of the goal", "shell", 3, parent_id=goal), now)
        for n in range(cards - 21):
            after = [n + 21] if n % 10 else []  # chains of ten: most cards wait
            title = f"card {n}: a task with a title of ordinary length"
            store.add_card(NewCard(title, "shell", 3, after=after, labels=["bulk"]), now)
        paused = _work(store)
        for n in range(5):
            job = NewJob(
                "0 9 * * 1-5", "UTC", f"Report {n}", "shell", "true", None, None, None, "skip"
            )
            store.add_job(job, now, now)
        return paused, goal
    finally:
        store.close()


def _work(store: Store) -> int:
    """Finish some cards (with runs), leave some running, pause one on a human."""
    at = utcnow()
    for _ in range(60):
        claim = store.claim(at, 60)
        assert claim is not None
        store.complete(claim.run_id, at, result="ok")
    for _ in range(3):
        assert store.claim(at, 60) is not None
    claim = store.claim(at, 60)
    assert claim is not None
    store.pause(claim.run_id, at, {**APPROVAL, "reason": "force push"})
    return claim.card_id


def _env(home: Path, cache: Path) -> dict[str, str]:
    """A person's environment: this board, no width set, bytecode cached."""
    env = hermes_env(home, PYTHONPYCACHEPREFIX=str(cache))
    for name in ("PYTHONDONTWRITEBYTECODE", "COLUMNS", "LINES"):
        env.pop(name, None)
    return env


def in_process(home: Path) -> tuple[float, float]:
    """(store.list_cards, the same plus drawing the `board list` table) in seconds."""
    from hermes.cli.text import encode
    from hermes.cli.views import card_list

    store = open_store(f"sqlite:///{home / 'board.db'}")
    try:
        read = median_time(lambda: store.list_cards(CardFilter(), utcnow()), 5)

        def draw() -> None:
            now = utcnow()
            cards = store.list_cards(CardFilter(), now)
            encode(card_list(cards, store.pending_requests(), now, 200).render(None), False)

        return read, median_time(draw, 5)
    finally:
        store.close()


def run(workdir: Path, size: Size) -> list[Row]:
    """Every read command and `board add`, each next to `python -c pass`."""
    cards = 1000
    runs = pick(size, 1, 5, 11)
    home = workdir / "home"
    paused, goal = build(home, cards)
    env = _env(home, workdir / "pycache")
    hermes = [sys.executable, "-m", "hermes"]
    commands = [
        (f"hermes board list, {cards:,} cards", ["board", "list"]),
        (f"hermes board list --json, {cards:,} cards", ["board", "list", "--json"]),
        (f"hermes board show (a paused card), {cards:,} cards", ["board", "show", str(paused)]),
        (f"hermes board stats, {cards:,} cards", ["board", "stats"]),
        (f"hermes board watch --once (piped), {cards:,} cards", ["board", "watch", "--once"]),
        (f"hermes goal status (20 cards), {cards:,} cards", ["goal", "status", str(goal)]),
        (f"hermes cron list (5 jobs), {cards:,} cards", ["cron", "list"]),
        (f"hermes dispatcher status, {cards:,} cards", ["dispatcher", "status"]),
        ("hermes profiles list", ["profiles", "list"]),
        (f"hermes board add, {cards:,} cards", ["board", "add", "timed", "--no-repo"]),
    ]
    for _, args in commands:  # compile the bytecode and warm the page cache
        time_command([*hermes, *args], env, 1)
    python = time_command([sys.executable, "-c", "pass"], env, max(runs, 5))
    rows = []
    for measure, args in commands:
        seconds = time_command([*hermes, *args], env, runs)
        budget = "150 ms" if args[1] == "add" else "200 ms"
        rows.append(
            Row(SECTION, measure, seconds * 1e3, "ms", python * 1e3, PYTHON_IS, f"budget {budget}")
        )
    read, drawn = in_process(home)
    rows.append(
        Row(
            SECTION,
            f"  board list in process: read and draw, {cards:,} cards",
            drawn * 1e3,
            "ms",
            read * 1e3,
            "store.list_cards alone, in process",
        )
    )
    return rows
