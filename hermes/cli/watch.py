"""`hermes board watch`: the board as live columns, redrawn the moment anything changes.

Changes are noticed by polling SQLite's `PRAGMA data_version` (it moves whenever another
connection commits) every `interval` seconds; that costs microseconds, so the view follows
the board within a fraction of a second without re-reading it when nothing happened.
Ages are refreshed once a second.
"""

from __future__ import annotations

import time
from datetime import datetime

from rich import box
from rich.console import Console, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from board import Card, CardFilter, Status, Store
from board.clock import age, parse_iso, until, utcnow
from hermes.cli.printable import printable
from hermes.cli.render import STATUS_STYLE, first_line

ALWAYS_SHOWN = (Status.READY, Status.RUNNING, Status.DONE)
LIVE = (Status.RUNNING, Status.NEEDS_INPUT)
AGE_REFRESH = 1.0


def board_view(cards: list[Card], now: datetime, rows: int) -> RenderableType:
    """One column per status that has cards (ready, running and done always)."""
    shown = [s for s in Status if s in ALWAYS_SHOWN or any(c.status == s for c in cards)]
    total = len(cards)
    table = Table(
        box=box.SIMPLE_HEAD,
        expand=True,
        show_edge=False,
        pad_edge=False,
        title=f"hermes board · {total} card{'s' if total != 1 else ''} · "
        f"{now.astimezone():%H:%M:%S} · Ctrl-C to quit",
        title_style="bold",
    )
    cells: list[Text] = []
    for status in shown:
        group = [c for c in cards if c.status == status]
        if status in (Status.DONE, Status.FAILED, Status.CANCELLED):
            group.sort(key=lambda c: c.updated_at, reverse=True)  # most recent first
        else:
            group.sort(key=lambda c: (-c.priority, c.id))
        header = Text.assemble((status.value, STATUS_STYLE[status.value]), f" {len(group)}")
        table.add_column(header, no_wrap=True, overflow="ellipsis", ratio=1)
        cells.append(_cell(group, now, rows))
    table.add_row(*cells)
    return table


def _cell(cards: list[Card], now: datetime, rows: int) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    for index, card in enumerate(cards):
        if index == rows - 1 and len(cards) > rows:
            text.append(f"+{len(cards) - index} more", style="dim")
            break
        if index:
            text.append("\n")
        text.append(f"{card.id} ", style="bold")
        if card.status in LIVE:  # how long it has been at it
            text.append(f"{age(card.updated_at, now)} ", style="dim")
        text.append(printable(first_line(card.title)))
        if card.status == Status.READY and card.not_before and parse_iso(card.not_before) > now:
            text.append(f" (in {until(card.not_before, now)})", style="cyan")
    return text


def watch_board(store: Store, interval: float) -> None:
    """Redraw the board until Ctrl-C."""
    console = Console(highlight=False)
    seen_version: int | None = None
    drawn_at = 0.0
    with Live(console=console, screen=console.is_terminal, auto_refresh=False) as live:
        try:
            while True:
                version = store.data_version()
                if version != seen_version or time.monotonic() - drawn_at >= AGE_REFRESH:
                    now = utcnow()
                    cards = store.list_cards(CardFilter(), now)
                    rows = max(3, console.size.height - 6)
                    live.update(board_view(cards, now, rows), refresh=True)
                    seen_version, drawn_at = version, time.monotonic()
                time.sleep(interval)
        except KeyboardInterrupt:
            return
