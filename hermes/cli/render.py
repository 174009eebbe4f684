"""rich views: `dispatcher status`, and helpers for views that use rich (skills).

The board's own views (`board list`, `show`, `stats`, `cron list`, `goal status`,
profiles) are drawn without rich, in `hermes.cli.views`: rich costs more to import than
those commands may take. Only human output lives here; `--json` output is the records'
`to_json()`. Imported lazily by the commands that print with rich.
"""

from __future__ import annotations

from datetime import datetime

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from board import DispatcherInfo, LiveRun
from board.clock import age, parse_iso, until
from hermes.cli.printable import one_line, printable
from hermes.cli.views import goal_tree
from hermes.paths import this_host

__all__ = ["STATUS_STYLE", "first_line", "goal_tree", "plain", "status_text", "status_view"]

STATUS_STYLE: dict[str, str] = {
    "backlog": "grey62",
    "waiting": "yellow",
    "ready": "cyan",
    "running": "bold blue",
    "needs_input": "bold magenta",
    "review": "magenta",
    "done": "green",
    "failed": "bold red",
    "cancelled": "grey50",
}
OUTCOME_STYLE = {
    "running": "blue",
    "done": "green",
    "failed": "red",
    "timeout": "red",
    "reclaimed": "yellow",
    "cancelled": "grey50",
}


def plain(value: str, style: str = "") -> Text:
    """User or agent text as a rich Text: never read as markup, control characters shown."""
    return Text(printable(value), style=style)


def first_line(title: str) -> str:
    """A title for a one-line cell: line breaks and tabs spelled out (`\\n`, `\\t`), as
    every table shows them."""
    return one_line(title)


def status_text(status: str) -> Text:
    """A status name in its colour."""
    return Text(status, style=STATUS_STYLE.get(status, ""))


def dispatchers_table(
    dispatchers: list[DispatcherInfo], now: datetime, states: list[str] | None = None
) -> RenderableType:
    """Who runs the board: each dispatcher with its state as judged by `states` (same
    order; by default `running` until it recorded itself stopped), and when it last
    ticked. A `gone` one died without saying so (kill -9, its host lost)."""
    if not dispatchers:
        return Text("No dispatcher has run in the last hour: hermes dispatcher start", "dim")
    if states is None:
        states = ["stopped" if info.stopped_at else "running" for info in dispatchers]
    style = {"running": "green", "stopping": "yellow", "unresponsive": "bold yellow",
             "gone": "bold red", "stopped": "grey50"}  # fmt: skip
    table = Table(title="dispatchers", title_justify="left", box=box.SIMPLE_HEAD)
    for name in ("id", "state", "concurrency", "started", "last tick"):
        table.add_column(name, no_wrap=True)
    for info, state in zip(dispatchers, states, strict=True):
        table.add_row(
            plain(info.id),
            Text(state, style=style.get(state, "")),
            str(info.concurrency),
            f"{age(info.started_at, now)} ago",
            f"{age(info.heartbeat_at, now)} ago",
        )
    if "gone" in states:
        table.caption = "gone: stopped without saying so (killed, or its host was lost)"
        table.caption_justify = "left"
    return table


def status_view(
    dispatchers: list[DispatcherInfo],
    live: list[LiveRun],
    now: datetime,
    states: list[str] | None = None,
) -> RenderableType:
    """`dispatcher status`: who runs the board, and every live run with its lease."""
    head = dispatchers_table(dispatchers, now, states)
    if not live:
        return Group(head, Text("No live runs.", style="dim"))
    runs = Table(title=f"live runs  {len(live)}", title_justify="left", box=box.SIMPLE_HEAD)
    runs.add_column("run", justify="right", no_wrap=True, min_width=3)
    runs.add_column("card", overflow="ellipsis", no_wrap=True, max_width=20)
    for name, width in (("profile", 7), ("status", 11), ("pid", 7), ("beat", 7), ("lease", 6)):
        runs.add_column(name, no_wrap=True, min_width=width)
    for entry in live:
        run = entry.run
        expires = parse_iso(run.lease_expires_at)
        lease = until(run.lease_expires_at, now) if expires > now else "expired"
        where = "" if run.host in (None, this_host()) else f"@{run.host}"
        runs.add_row(
            str(run.id),
            plain(f"{run.card_id} {first_line(entry.title)}"),
            plain(entry.profile),
            status_text(entry.status),
            plain(f"{run.pid}{where}" if run.pid else "starting"),
            f"{age(run.heartbeat_at, now)} ago",
            Text(lease, style="red" if expires <= now else ""),
        )
    return Group(head, runs)
