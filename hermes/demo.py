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


async def _run_live(db_url: str, console: Console) -> None:
    lines: list[Text] = []
    settings = Settings(concurrency=4, tick=1.0, heartbeat=2.0, lease=20.0, until_idle=True)
    dispatcher = Dispatcher(db_url, settings, lambda text: lines.append(Text(text, "dim")))
    viewer = open_store(db_url)

    def render() -> Group:
        cards = viewer.list_cards(CardFilter(include_old=True), utcnow())
        return Group(board_view(cards, utcnow(), 8), *lines[-8:])

    with Live(render(), console=console, refresh_per_second=10) as live:
        task = asyncio.create_task(dispatcher.run())
        while not task.done():
            await asyncio.sleep(0.1)
            live.update(render())
        live.update(render())
    viewer.close()
    await task


def run_demo(console: Console) -> int:
    """Build the demo project, run it live, and say where to look; returns the exit code."""
    root = Path(tempfile.mkdtemp(prefix="hermes-demo-"))
    home, repo = root / "home", root / "stats"
    os.environ["HERMES_HOME"] = str(home)
    os.environ.pop("HERMES_DB_URL", None)
    db_url = f"sqlite:///{home / 'board.db'}"
    repo.mkdir(parents=True)
    _make_repo(repo)
    with open_store(db_url) as store:
        ids = _add_cards(store, repo)
    console.print(
        f"[bold]hermes demo[/]: {len(CARDS)} shell cards in a fresh git repository, "
        "run in parallel git worktrees\n"
    )
    started = time.monotonic()
    asyncio.run(_run_live(db_url, console))
    with open_store(db_url) as store:
        cards = {key: store.card(card_id) for key, card_id in ids.items()}
    _summary(console, root, home, repo, cards, time.monotonic() - started)
    return 0 if all(card.status == Status.DONE for card in cards.values()) else 1


def _command() -> str:
    """How the user invoked hermes, so the hints can be pasted as they are."""
    invoked = Path(sys.argv[0])
    return shlex.quote(sys.argv[0]) if invoked.name == "hermes" else f"{PY} -m hermes"


def _summary(
    console: Console, root: Path, home: Path, repo: Path, cards: dict[str, Card], took: float
) -> None:
    done = [card for card in cards.values() if card.status == Status.DONE]
    last, report = cards["check"], cards["report"]
    style = "bold green" if len(done) == len(cards) else "bold red"
    console.print(f"\n[{style}]{len(done)} of {len(cards)} cards done[/] in {took:.1f}s\n")
    hermes = f"HERMES_HOME={home} {_command()}"
    finding = (report.result or "").strip().splitlines()[-1:] or ["(no report)"]
    rows = [
        ("the report", f"card {report.id} found: {finding[0]}"),
        ("repository", f"{repo} (its main branch is untouched)"),
        ("branches", f"hermes/card-1 … hermes/card-{last.id}; card {last.id} has everything:"),
        ("", f"git -C {repo} log --graph --oneline --all"),
        ("worktrees", str(Path(last.worktree or "").parent)),
        ("the board", f"{hermes} board list --all"),
        ("a card", f"{hermes} board show {last.id}"),
        ("its output", f"{hermes} board log {last.id}"),
        ("merge it", f"{hermes} board merge {last.id}"),
        ("clean up", f"rm -rf {root}"),
    ]
    for label, value in rows:
        console.print(Text.assemble((f"  {label:<12}", "bold"), value), soft_wrap=True)
