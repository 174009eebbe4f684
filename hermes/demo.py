"""`hermes demo`: the whole machine on a small project, offline, in about ten seconds.

A fresh git repository and a fresh board in a temporary directory; six `shell` cards in a
graph (two branches of work that a report card joins, then a test run over everything);
a dispatcher running them in parallel worktrees under a live board. Nothing touches the
user's own board or repositories, and nothing needs a network or an API key.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from board import Card, CardFilter, Status, Store, open_store
from board.clock import utcnow
from dispatcher import Dispatcher, Settings
from hermes.cli.console import Printer
from hermes.cli.text import encode
from hermes.cli.views import plural
from hermes.cli.watch import board_view
from hermes.intake import CardRequest, add_card

PY = shlex.quote(sys.executable)


@dataclass(frozen=True)
class DemoCard:
    """One card of the demo graph; `after` names earlier cards by their key."""

    key: str
    title: str
    body: str
    after: tuple[str, ...] = ()


CARDS = (
    DemoCard(
        "scaffold",
        "Scaffold the package",
        """
mkdir -p stats tests data
echo '# Small statistics for the hermes demo.' > stats/__init__.py
touch tests/__init__.py data/.keep   # git keeps files, not empty directories
sleep 1.5
echo "package scaffolded"
""",
    ),
    DemoCard(
        "data",
        "Generate sample data",
        f"""
{PY} - <<'EOF'
seed = 7
with open("data/numbers.csv", "w") as out:
    for _ in range(200):
        seed = (seed * 1103515245 + 12345) % 2**31
        out.write(f"{{seed % 1000}}\\n")
EOF
sleep 2
echo "$(wc -l < data/numbers.csv) numbers written"
""",
        ("scaffold",),
    ),
    DemoCard(
        "library",
        "Write the statistics module",
        """
cat > stats/core.py <<'EOF'
def mean(xs):
    return sum(xs) / len(xs)


def median(xs):
    s = sorted(xs)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2
EOF
sleep 1
echo "stats/core.py: mean, median"
""",
        ("scaffold",),
    ),
    DemoCard(
        "tests",
        "Write the tests",
        """
cat > tests/test_core.py <<'EOF'
import unittest

from stats.core import mean, median


class CoreTest(unittest.TestCase):
    def test_mean(self):
        self.assertEqual(mean([1, 2, 3, 6]), 3)

    def test_median(self):
        self.assertEqual(median([5, 1, 3]), 3)
        self.assertEqual(median([4, 1, 3, 2]), 2.5)
EOF
sleep 1
echo "tests written"
""",
        ("library",),
    ),
    DemoCard(
        "report",
        "Build the report (needs data and module)",
        f"""
{PY} - <<'EOF'
from stats.core import mean, median
xs = [int(line) for line in open("data/numbers.csv")]
with open("report.md", "w") as out:
    out.write(f"# Report\\n\\n{{len(xs)}} numbers: mean {{mean(xs):.1f}}, median {{median(xs)}}\\n")
EOF
sleep 1
cat report.md
""",
        ("data", "library"),
    ),
    DemoCard(
        "check",
        "Run the test suite on everything",
        f"""
test -f report.md
{PY} -m unittest -v 2>&1
""",
        ("tests", "report"),
    ),
)


def _make_repo(path: Path) -> None:
    from git import Repo

    from worktrees import commit_all

    Repo.init(path, initial_branch="main")
    (path / "README.md").write_text("# stats\n\nA tiny project built by hermes cards.\n")
    commit_all(path, "initial commit")


def _add_cards(store: Store, repo: Path) -> dict[str, int]:
    ids: dict[str, int] = {}
    for card in CARDS:
        request = CardRequest(
            title=card.title,
            body=card.body.strip() + "\n",
            profile="shell",
            after=[ids[key] for key in card.after],
            repo=repo,
            source="demo",
        )
        ids[card.key], _ = add_card(store, request, utcnow())
    return ids


class _DemoDispatcher(Dispatcher):
    """The dispatcher, remembering whether Ctrl-C (or SIGTERM) stopped it: the summary
    must then say the demo was interrupted, not report a finished run."""

    interrupted = False

    def request_stop(self) -> None:
        self.interrupted = True
        super().request_stop()


async def _run_live(db_url: str, console: Console) -> bool:
    """Run the cards under a live board; True when the run was interrupted."""
    lines: list[Text] = []
    settings = Settings(
        concurrency=4, tick=1.0, heartbeat=2.0, lease=20.0, grace=5.0, until_idle=True
    )
    dispatcher = _DemoDispatcher(db_url, settings, lambda text: lines.append(Text(text, "dim")))
    viewer = open_store(db_url)

    def render() -> Group:
        now = utcnow()
        cards = viewer.list_cards(CardFilter(include_old=True), now)
        board = board_view(cards, {}, now, console.width, 12)
        return Group(Text.from_ansi(encode(board, colour=True).rstrip("\n")), *lines[-8:])

    try:
        with Live(render(), console=console, refresh_per_second=10) as live:
            task = asyncio.create_task(dispatcher.run())
            while not task.done():
                await asyncio.sleep(0.1)
                live.update(render())
            live.update(render())
        await task
    finally:
        viewer.close()
    return dispatcher.interrupted


def run_demo(console: Printer) -> int:
    """Build the demo project, run it live, and say where to look; returns the exit code
    (130 when Ctrl-C stopped it)."""
    out = console.rich
    root = Path(tempfile.mkdtemp(prefix="hermes-demo-"))
    home, repo = root / "home", root / "stats"
    os.environ["HERMES_HOME"] = str(home)
    os.environ.pop("HERMES_DB_URL", None)
    db_url = f"sqlite:///{home / 'board.db'}"
    try:
        repo.mkdir(parents=True)
        _make_repo(repo)
        with open_store(db_url) as store:
            ids = _add_cards(store, repo)
    except KeyboardInterrupt:  # nothing ran yet: nothing worth keeping
        shutil.rmtree(root, ignore_errors=True)
        out.print(f"\n[bold red]interrupted[/] before any card ran; removed {root}")
        return 130
    out.print(
        f"[bold]hermes demo[/]: {len(CARDS)} shell cards in a fresh git repository, "
        "run in parallel git worktrees\n"
    )
    started = time.monotonic()
    try:
        interrupted = asyncio.run(_run_live(db_url, out))
    except KeyboardInterrupt:  # before the dispatcher took over Ctrl-C
        interrupted = True
    with open_store(db_url) as store:
        cards = {key: store.card(card_id) for key, card_id in ids.items()}
    took = time.monotonic() - started
    paths = _Paths(root, home, repo)
    if interrupted:
        _interrupted(out, paths, cards, took)
        return 130
    _summary(out, paths, cards, took)
    return 0 if all(card.status == Status.DONE for card in cards.values()) else 1


@dataclass(frozen=True)
class _Paths:
    """Where the demo put things: the temporary root, its board and its repository."""

    root: Path
    home: Path
    repo: Path

    @property
    def hermes(self) -> str:
        """How to run hermes on the demo's board, as it can be pasted."""
        invoked = Path(sys.argv[0])
        command = shlex.quote(sys.argv[0]) if invoked.name == "hermes" else f"{PY} -m hermes"
        return f"HERMES_HOME={self.home} {command}"


def _rows(console: Console, rows: list[tuple[str, str]]) -> None:
    for label, value in rows:
        console.print(Text.assemble((f"  {label:<12}", "bold"), value), soft_wrap=True)


def _counts(cards: dict[str, Card]) -> str:
    """`3 done, 1 ready, 2 waiting`, in the state machine's order."""
    by_status = [(s, sum(c.status == s for c in cards.values())) for s in Status]
    return ", ".join(f"{count} {status.value}" for status, count in by_status if count)


def _interrupted(console: Console, paths: _Paths, cards: dict[str, Card], took: float) -> None:
    """What an interrupted demo left: which cards finished, and how to go on or clean up."""
    done = sum(card.status == Status.DONE for card in cards.values())
    console.print(
        f"\n[bold yellow]interrupted[/] after {took:.1f}s: {done} of "
        f"{plural(len(cards), 'card')} done ({_counts(cards)}). The rest stay on the "
        "demo's board; nothing was merged.\n"
    )
    _rows(
        console,
        [
            ("the board", f"{paths.hermes} board list --all"),
            ("finish it", f"{paths.hermes} dispatcher start --until-idle"),
            ("repository", f"{paths.repo} (its main branch is untouched)"),
            ("clean up", f"rm -rf {paths.root}"),
        ],
    )


def _summary(console: Console, paths: _Paths, cards: dict[str, Card], took: float) -> None:
    done = [card for card in cards.values() if card.status == Status.DONE]
    last, report = cards["check"], cards["report"]
    style = "bold green" if len(done) == len(cards) else "bold red"
    console.print(
        f"\n[{style}]{len(done)} of {plural(len(cards), 'card')} done[/] in {took:.1f}s"
        + ("" if len(done) == len(cards) else f" ({_counts(cards)})")
        + "\n"
    )
    hermes = paths.hermes
    finding = (report.result or "").strip().splitlines()[-1:] or ["(no report)"]
    rows = [
        ("the report", f"card {report.id} found: {finding[0]}"),
        ("repository", f"{paths.repo} (its main branch is untouched)"),
        ("branches", f"hermes/card-1 … hermes/card-{last.id}; card {last.id} has everything:"),
        ("", f"git -C {paths.repo} log --graph --oneline --all"),
    ]
    if last.worktree:
        rows.append(("worktrees", str(Path(last.worktree).parent)))
    rows += [
        ("the board", f"{hermes} board list --all"),
        ("a card", f"{hermes} board show {last.id}"),
        ("its output", f"{hermes} board log {last.id}"),
    ]
    if last.status == Status.DONE:  # only a finished card's branch can be merged
        rows.append(("merge it", f"{hermes} board merge {last.id}"))
    rows.append(("clean up", f"rm -rf {paths.root}"))
    _rows(console, rows)
