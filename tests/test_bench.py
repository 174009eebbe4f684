"""The benchmarks run: `python -m bench --smoke` prints its table (every figure numeric,
next to a reference and a ratio) and writes the same rows as JSON. Speed is never
asserted here; docs/performance.md reports it."""

from __future__ import annotations

import importlib.util
import json
import math
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NUMBER = re.compile(r"^-?[\d,]+(\.\d+)?(e-?\d+)?$")

BOARD_MEASURES = (
    "claim+complete cycles through the store",
    "complete one card, 500 cards waiting",
    "promotion statement alone, 500 waiting",
    "store.list_cards, 1,000 cards",
    "hermes board list --json, 1,000 cards",
    "hermes board list (table), 1,000 cards",
    "hermes board add, wall",
)
SCALING_MEASURES = (
    "claim one card",
    "complete one card",
    "claim+complete, synchronous=OFF",
    "dispatcher wake (store reads)",
    "idle check (--until-idle wakes)",
    "store.list_cards, default view",
    "store.list_cards, whole board",
    "hermes board list --json --all",
)


def number(text: str) -> float:
    assert NUMBER.match(text), f"{text!r} is not a number"
    return float(text.replace(",", ""))


def table_rows(stdout: str, section: str) -> dict[str, list[str]]:
    """The main table's rows of one section, by measure: [value, unit, reference, ratio]."""
    rows = {}
    for line in stdout.splitlines():
        if not line.startswith(section + " "):
            continue
        cells = re.split(r"\s{2,}", line.removeprefix(section).strip())
        rows[cells[0]] = cells[1:5]
    return rows


def test_the_bench_runs_and_prints_every_figure_with_its_reference(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    plot = tmp_path / "scaling.png"
    args = ["--smoke", "--only", "board,scaling", "--dir", str(tmp_path)]
    proc = subprocess.run(
        [sys.executable, "-m", "bench", *args, "--json", str(out), "--plot", str(plot)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr

    board = table_rows(proc.stdout, "board")
    assert sorted(board) == sorted(BOARD_MEASURES)
    for measure, (value, unit, reference, ratio) in board.items():
        assert number(value) > 0 and unit, measure
        assert number(reference) > 0, measure
        assert ratio.endswith("x") and number(ratio[:-1]) > 0, measure

    scaling = table_rows(proc.stdout, "scaling")
    assert sorted(scaling) == sorted(f"{m}, 1,000 cards" for m in SCALING_MEASURES)
    for measure, (value, _unit, reference, ratio) in scaling.items():
        assert number(value) > 0 and number(reference) > 0, measure
        assert ratio.endswith("x"), measure
    assert "500 cards" in proc.stdout and "1,000 cards" in proc.stdout  # the grid

    document = json.loads(out.read_text())
    assert [r["section"] for r in document["rows"]] == ["board"] * 7 + ["scaling"] * 8
    for row in document["rows"]:
        assert math.isfinite(row["value"]) and row["value"] > 0
        assert row["ratio"] == row["value"] / row["reference"]
    assert [p["cards"] for p in document["scaling"]] == [500, 1000]
    assert all(len(p["seconds"]) == len(SCALING_MEASURES) + 1 for p in document["scaling"])

    if importlib.util.find_spec("matplotlib") is not None:
        assert plot.read_bytes().startswith(b"\x89PNG")
    else:
        assert "pip install -e '.[bench]'" in proc.stdout
    assert not any(tmp_path.glob("hermes-bench-*")), "the databases are left behind"


def test_an_unknown_section_is_refused() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "boards"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "unknown section(s) boards" in proc.stderr
