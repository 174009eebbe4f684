"""`python -m bench`: run the benchmarks and print one table.

python -m bench                      # everything, full sizes (a few minutes)
python -m bench --quick              # smaller sizes, about a minute
python -m bench board dispatch       # only some sections (same as --only board,dispatch)
python -m bench --dir PATH           # databases on the disk you care about
python -m bench --json out.json      # the rows as JSON too
python -m bench --plot               # the scaling figure, docs/performance-scaling.png
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import agent, backends, board, cli, dispatch, gateway, http, postgres, scaling, web
from bench.common import ROOT, Row, Size, fmt

SECTIONS = (
    "board", "cli", "dispatch", "backends", "agent", "gateway", "http", "web", "scaling",
    "postgres",
)  # fmt: skip
DEFAULT_PLOT = ROOT / "docs" / "performance-scaling.png"
HEADER = ("section", "measure", "value", "unit", "reference", "ratio", "reference is")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run hermes's benchmarks; print every figure next to its reference.",
    )
    parser.add_argument(
        "sections", nargs="*", metavar="SECTION", help=f"sections to run: {', '.join(SECTIONS)}"
    )
    parser.add_argument("--only", default="", help="comma-separated sections, e.g. board,agent")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller sizes (about a minute)")
    size.add_argument("--smoke", action="store_true", help="tiny sizes, to check the bench runs")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the databases")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="write rows")
    parser.add_argument(
        "--plot",
        type=Path,
        nargs="?",
        const=DEFAULT_PLOT,
        default=None,
        metavar="PATH",
        help=f"draw the scaling figure (default {DEFAULT_PLOT.relative_to(ROOT)})",
    )
    opts = parser.parse_args(argv)
    chosen = [*opts.sections, *(s.strip() for s in opts.only.split(",") if s.strip())]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    opts.chosen = [s for s in SECTIONS if s in chosen] if chosen else list(SECTIONS)
    return opts


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return ""
    if ratio < 0.01:
        return f"{ratio:.4f}x"
    if ratio < 10:
        return f"{ratio:.2f}x"
    return f"{ratio:,.1f}x" if ratio < 100 else f"{ratio:,.0f}x"


def render(rows: list[Row]) -> list[str]:
    """The table as aligned plain text lines."""
    cells = [HEADER] + [
        (
            r.section,
            r.measure,
            fmt(r.value),
            r.unit,
            "" if r.reference is None else fmt(r.reference),
            fmt_ratio(r.ratio),
            r.reference_is + (f" ({r.note})" if r.note else ""),
        )
        for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    right = {2, 4, 5}
    lines = []
    for c in cells:
        parts = [
            c[i].rjust(widths[i]) if i in right else c[i].ljust(widths[i])
            for i in range(len(HEADER) - 1)
        ]
        lines.append("  ".join([*parts, c[-1]]).rstrip())
    return lines


def machine(workdir: Path) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "dir": str(workdir.parent),
    }


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    size: Size = "smoke" if opts.smoke else "quick" if opts.quick else "full"
    workdir = Path(tempfile.mkdtemp(prefix="hermes-bench-", dir=opts.dir))
    runners: dict[str, Callable[[Path, Size], list[Row]]] = {
        "board": board.run,
        "dispatch": dispatch.run,
        "backends": backends.run,
        "agent": agent.run,
        "cli": cli.run,
        "gateway": gateway.run,
        "http": http.run,
        "web": web.run,
        "postgres": postgres.run,
    }
    rows: list[Row] = []
    points: list[scaling.Point] = []
    timings: dict[str, float] = {}
    try:
        for section in opts.chosen:
            print(f"running {section} ({size}) ...", file=sys.stderr, flush=True)
            start = time.monotonic()
            where = workdir / section
            where.mkdir()
            if section == "scaling":
                found, points = scaling.run(where, size)
                rows += found
            else:
                rows += runners[section](where, size)
            timings[section] = time.monotonic() - start
    finally:
        if opts.keep:
            print(f"kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    info = machine(workdir)
    print(
        f"hermes benchmarks, {size} sizes, {info['date']}: {info['cpus']} CPUs, "
        f"Python {info['python']}, SQLite {info['sqlite']}, databases in {info['dir']}"
    )
    print(
        "ratio = value / reference; references are measured in the same run unless "
        "marked (setting)\n"
    )
    print("\n".join(render(rows)))
    if points:
        print("\nMedian time of one operation, by board size:")
        print("\n".join(scaling.table(points)))
    took = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())
    print(f"\n(took {took})")
    if opts.json is not None:
        document = {
            **info,
            "size": size,
            "took_seconds": timings,
            "rows": [r.to_json() for r in rows],
            "scaling": [p.to_json() for p in points],
        }
        opts.json.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        print(f"rows written to {opts.json}")
    if opts.plot is not None:
        if not points:
            print("no plot: the scaling section did not run")
        elif scaling.plot(points, opts.plot):
            print(f"plot written to {opts.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
