"""`hermes board watch`: the board as live columns, redrawn the moment anything changes.

Changes are noticed by polling SQLite's `PRAGMA data_version` (it moves whenever another
connection commits) every `interval` seconds; that costs microseconds, so the view follows
the board within a fraction of a second without re-reading it when nothing happened. On
PostgreSQL the wait ends early when a change is announced (LISTEN/NOTIFY).
Ages are refreshed once a second.

On a terminal the board fills the screen (the alternate screen, left as it was on
Ctrl-C). In a pipe or a file there is no screen to redraw: the board is printed as plain
text, once and then again after every change, so `watch | tee board.log` is a history.
"""

from __future__ import annotations

import os
import select
import sys
import time
from datetime import datetime
from typing import Any, TextIO

from board import Card, CardFilter, Status, Store
from board.clock import age, parse_iso, until, utcnow
from hermes.cli.printable import one_line
from hermes.cli.text import Line, encode, pad, use_colour
from hermes.cli.views import STATUS_STYLE, plural, request_line

ALWAYS_SHOWN = (Status.READY, Status.RUNNING, Status.DONE)
LIVE = (Status.RUNNING, Status.NEEDS_INPUT)
FINISHED = (Status.DONE, Status.FAILED, Status.CANCELLED)
AGE_REFRESH = 1.0
GAP = 2


def _columns(cards: list[Card]) -> list[tuple[Status, list[Card]]]:
    """The statuses shown (ready, running and done always) with their cards in order:
    finished ones most recent first, the others by priority, then id."""
    groups: dict[Status, list[Card]] = {status: [] for status in Status}
    for card in cards:
        groups[Status(card.status)].append(card)
    shown = []
    for status, group in groups.items():
        if group or status in ALWAYS_SHOWN:
            if status in FINISHED:
                group.sort(key=lambda c: c.updated_at, reverse=True)
            else:
                group.sort(key=lambda c: (-c.priority, c.id))
            shown.append((status, group))
    return shown


def _card_line(card: Card, now: datetime) -> Line:
    """`12 3m Title (in 2h)`: id, how long a live card has been at it, the title."""
    line = Line((f"{card.id} ", "bold"))
    if card.status in LIVE:
        line.append(f"{age(card.updated_at, now)} ", "dim")
    line.append(one_line(card.title))
    if card.status == Status.READY and card.not_before and parse_iso(card.not_before) > now:
        line.append(f" (in {until(card.not_before, now)})", "cyan")
    return line


def _title(cards: list[Card], now: datetime, hint: str) -> Line:
    return Line(
        (f"hermes board · {plural(len(cards), 'card')} · {now.astimezone():%H:%M:%S}", "bold"), hint
    )


def _human_lines(cards: list[Card], requests: dict[int, dict[str, Any]]) -> list[tuple[int, Line]]:
    """Each card paused on a human, with what it asks and the command that answers it."""
    found = []
    for card in sorted(cards, key=lambda c: c.id):
        if card.status != Status.NEEDS_INPUT:
            continue
        request = requests.get(card.id) or {}
        line = request_line(request) if request else Line(("a human", "bold magenta"))
        if request.get("kind") == "question":
            answer = f"hermes board reply {card.id} TEXT"
        else:
            answer = f"hermes board approve {card.id} | reject {card.id}"
        found.append((card.id, line.append(f"  ({answer})", "dim")))
    return found


def board_view(
    cards: list[Card],
    requests: dict[int, dict[str, Any]],
    now: datetime,
    width: int,
    height: int,
) -> list[Line]:
    """The screen: a title, a column per status, and the cards waiting for a human (what
    each asks, in full) under them; at most `height` lines, none wider than
    `width`, ending in `+N more` where a column holds more than fits."""
    room = height - 3  # under the title, the column headings and their rule
    most = room // 2 - 1  # the panel's share, after the blank line above it
    panel = _panel(_human_lines(cards, requests), width, most) if most >= 2 else []
    rows = max(1, room - (len(panel) + 1 if panel else 0))
    columns = _columns(cards)
    cell = max(8, (width - GAP * (len(columns) - 1)) // len(columns))
    lines = [_title(cards, now, " · Ctrl-C to quit").crop(width)]
    header = Line()
    for number, (status, group) in enumerate(columns):
        count = f" {len(group):,}"  # the count survives a narrow column; the name gives way
        name = Line((status.value, STATUS_STYLE[status.value])).crop(cell - len(count))
        header.append(" " * GAP if number else "").extend(pad(name.append(count), cell))
    lines += [header.crop(width), Line(("─" * width, "dim"))]
    cells = [_cell(group, now, rows) for _, group in columns]
    for row in range(max((len(c) for c in cells), default=0)):
        line = Line()
        for number, column in enumerate(cells):
            part = column[row] if row < len(column) else Line()
            line.append(" " * GAP if number else "").extend(pad(part, cell))
        lines.append(line.crop(width))
    if panel:
        lines += [Line(), *(line.crop(width) for line in panel)]
    return lines[:height]


def _panel(humans: list[tuple[int, Line]], width: int, most: int) -> list[Line]:
    """The cards waiting for a human, each request in full (folded, never cut), in at
    most `most` lines; `+N more` says what did not fit."""
    if not humans:
        return []
    panel = [Line(("waiting for a human", "bold magenta"))]
    for shown, (card_id, line) in enumerate(humans):
        parts = line.wrap(max(10, width - 6))
        if len(panel) + len(parts) > most - (shown < len(humans) - 1):
            left = len(humans) - shown
            more = f"+{left} more: hermes board list --status needs_input"
            return [*panel, Line((more, "dim"))]
        for number, part in enumerate(parts):
            panel.append(Line(f"{card_id:>4}  " if not number else "      ").extend(part))
    return panel


def _cell(group: list[Card], now: datetime, rows: int) -> list[Line]:
    if len(group) <= rows:
        return [_card_line(card, now) for card in group]
    shown = [_card_line(card, now) for card in group[: rows - 1]]
    return [*shown, Line((f"+{len(group) - len(shown)} more", "dim"))]


def board_text(cards: list[Card], requests: dict[int, dict[str, Any]], now: datetime) -> list[Line]:
    """The board for a pipe or a file: every status shown with all its cards, one per
    line, nothing cut."""
    wants = dict(_human_lines(cards, requests))
    lines = [_title(cards, now, "")]
    for status, group in _columns(cards):
        lines.append(Line((status.value, STATUS_STYLE[status.value]), f" {len(group)}"))
        for card in group:
            line = Line("  ").extend(_card_line(card, now))
            if card.id in wants:
                line.append(" — ").extend(wants[card.id])
            lines.append(line)
    return lines


def _read(store: Store) -> tuple[list[Card], dict[int, dict[str, Any]], datetime]:
    now = utcnow()
    cards = store.list_cards(CardFilter(), now)
    paused = any(card.status == Status.NEEDS_INPUT for card in cards)
    return cards, store.pending_requests() if paused else {}, now


def watch_board(store: Store, interval: float, once: bool = False) -> None:
    """Show the board until Ctrl-C: live on a terminal, as text after each change in a
    pipe; with `once`, show it one time and return."""
    out = sys.stdout
    if once or not out.isatty():
        _print_changes(store, interval, out, once)
    else:
        _live(store, interval, out)


def _print_changes(store: Store, interval: float, out: TextIO, once: bool) -> None:
    colour = use_colour(out)
    seen: int | None = None
    try:
        while True:
            version = store.data_version()
            if version != seen:
                cards, requests, now = _read(store)
                if out.isatty():  # --once on a terminal: the screen the live view shows
                    size = os.get_terminal_size(out.fileno())
                    lines = board_view(cards, requests, now, size.columns, size.lines - 1)
                else:
                    lines = board_text(cards, requests, now)
                out.write(("" if seen is None else "\n") + encode(lines, colour))
                out.flush()
                seen = version
            if once or _reader_gone(out):
                return
            _pause(store, interval)
    except KeyboardInterrupt:
        return


def _reader_gone(out: TextIO) -> bool:
    """Whether the pipe's reader has closed it (`watch | head` after head is done): the
    next write would fail, but with an idle board there may not be one for hours."""
    try:
        poller = select.poll()
        poller.register(out.fileno(), select.POLLERR)
        return bool(poller.poll(0))
    except (OSError, ValueError, AttributeError):  # not a file descriptor we can poll
        return False


def _pause(store: Store, interval: float) -> None:
    """Wait `interval` seconds, or less when PostgreSQL announces a change first (its
    LISTEN socket becomes readable); SQLite announces nothing, so the poll it is."""
    socket = store.db.fileno()
    if socket is None:
        time.sleep(interval)
        return
    select.select([socket], [], [], interval)


def _live(store: Store, interval: float, out: TextIO) -> None:
    """Redraw in the alternate screen whenever the board, the clock or the size changes."""
    colour = use_colour(out)
    seen: tuple[int, os.terminal_size] | None = None
    drawn_at = 0.0
    out.write("\x1b[?1049h\x1b[?25l")  # the alternate screen, no cursor
    try:
        while True:
            size = os.get_terminal_size(out.fileno())
            state = (store.data_version(), size)
            if state != seen or time.monotonic() - drawn_at >= AGE_REFRESH:
                cards, requests, now = _read(store)
                lines = board_view(cards, requests, now, size.columns, size.lines)
                # Home, each line then clear its rest, clear below: no flicker, no scroll.
                frame = encode(lines, colour).replace("\n", "\x1b[K\n").rstrip("\n")
                out.write(f"\x1b[H{frame}\x1b[K\x1b[J")
                out.flush()
                seen, drawn_at = state, time.monotonic()
            _pause(store, interval)
    except KeyboardInterrupt:
        return
    finally:
        out.write("\x1b[?25h\x1b[?1049l")  # back to the screen as it was, cursor shown
        out.flush()
