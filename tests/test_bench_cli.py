"""The CLI benchmark runs: every read command and `board add` on 1,000 cards, each figure
next to `python -c pass` measured in the same run. Speed is not asserted here (a loaded
test machine says nothing); docs/performance.md reports it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.test_bench import number, table_rows

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = (
    "hermes board list, 1,000 cards",
    "hermes board list --json, 1,000 cards",
    "hermes board show (a paused card), 1,000 cards",
    "hermes board stats, 1,000 cards",
    "hermes board watch --once (piped), 1,000 cards",
    "hermes goal status (20 cards), 1,000 cards",
    "hermes cron list (5 jobs), 1,000 cards",
    "hermes dispatcher status, 1,000 cards",
    "hermes profiles list",
    "hermes board add, 1,000 cards",
)


def test_the_cli_bench_times_every_read_command_next_to_python(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "cli",
            "--dir",
            str(tmp_path),
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    rows = table_rows(proc.stdout, "cli")
    assert set(COMMANDS) <= set(rows), sorted(rows)
    for measure in COMMANDS:
        value, unit, reference, ratio = rows[measure]
        assert unit == "ms" and number(value) > 0 and number(reference) > 0, measure
        assert ratio.endswith("x"), measure
    document = json.loads(out.read_text())
    cli_rows = [row for row in document["rows"] if row["section"] == "cli"]
    assert len(cli_rows) == len(COMMANDS) + 1  # and the in-process draw beside the read
    assert all(row["reference_is"] for row in cli_rows)
    assert not any(tmp_path.glob("hermes-bench-*")), "the databases are left behind"
