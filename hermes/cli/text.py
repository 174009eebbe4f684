"""Terminal text for the board's views: styled lines, display widths, a column layout.

The views are rows of short cells in a few colours. rich draws them well but costs about
80 ms to import and half a second to lay out 1,000 rows; this module does the same job in
a few milliseconds, so every read command answers in well under a quarter of a second.

- A `Line` is one line of styled spans; user text must already be one line
  (`printable.one_line`), so nothing here can be driven by control characters.
- A view (`Line`, `Block`, `Table`, `Group`) renders to lines for a width, or for no
  width at all (a pipe: nothing is cut, so `grep` sees every word).
- Table columns have a natural width (their widest cell); when the table is too wide
  the shrinkable columns give way, widest first, down to their minimum, then optional
  columns are dropped. A column without a minimum (an id) never shrinks.
"""

from __future__ import annotations

import os
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Protocol, TextIO

from msgspec import Struct, field

ELLIPSIS = "…"
#: Style words and their SGR codes; a style is a space-separated list of words.
SGR = {
    "bold": "1",
    "dim": "2",
    "italic": "3",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
    "grey": "90",
}


@lru_cache(maxsize=64)
def sgr(style: str) -> str:
    """`bold red` as the escape sequence that switches it on."""
    codes = [SGR[word] for word in style.split() if word in SGR]
    return f"\x1b[{';'.join(codes)}m" if codes else ""


def char_width(char: str) -> int:
    """Terminal cells one character takes: 0 for combining and format characters, 2 for
    wide East Asian ones, 1 otherwise."""
    if char < "\u0300":
        return 1
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def width(text: str) -> int:
    """Terminal cells `text` takes (ASCII: its length)."""
    if text.isascii():
        return len(text)
    return sum(char_width(char) for char in text)


def _cut(text: str, cells: int) -> str:
    """The longest start of `text` that fits in `cells`."""
    if text.isascii():
        return text[:cells]
    used = 0
    for index, char in enumerate(text):
        used += char_width(char)
        if used > cells:
            return text[:index]
    return text


class View(Protocol):
    """Anything that can be drawn: lines for a width (None: as wide as it needs)."""

    def render(self, limit: int | None) -> list[Line]: ...


class Line:
    """One line of text in spans of one style each."""

    __slots__ = ("spans",)

    def __init__(self, *parts: str | tuple[str, str]) -> None:
        self.spans: list[tuple[str, str]] = [
            (part, "") if isinstance(part, str) else part for part in parts if part
        ]

    def append(self, text: str, style: str = "") -> Line:
        if text:
            self.spans.append((text, style))
        return self

    def extend(self, other: Line) -> Line:
        self.spans.extend(other.spans)
        return self

    @property
    def plain(self) -> str:
        return "".join(text for text, _ in self.spans)

    @property
    def width(self) -> int:
        return sum(width(text) for text, _ in self.spans)

    def crop(self, cells: int) -> Line:
        """This line in at most `cells`, ending in `…` when something was cut."""
        if self.width <= cells:
            return self
        if cells <= 0:
            return Line()
        out, room = Line(), cells - 1
        for text, style in self.spans:
            used = width(text)
            if used > room:
                out.append(_cut(text, room).rstrip(" "), style)
                out.append(ELLIPSIS, style)
                return out
            out.append(text, style)
            room -= used
        return out  # pragma: no cover (the width check above returns first)

    def wrap(self, cells: int | None) -> list[Line]:
        """This line folded into lines of at most `cells`, breaking after spaces when it
        can; never loses a character."""
        if cells is None or cells <= 0 or self.width <= cells:
            return [self]
        lines, current, room = [], Line(), cells
        for word, style in _words(self.spans):
            core = word.rstrip(" ")
            if current.spans and core and width(core) > room:  # break before the word
                lines.append(current)
                current, room = Line(), cells
                word = word.lstrip(" ")
                core = word.rstrip(" ")
            while width(core) > room:  # a word longer than a whole line: fold it
                head = _cut(word, room) or word[:1]
                current.append(head, style)
                lines.append(current)
                current, room = Line(), cells
                word = word[len(head) :]
                core = word.rstrip(" ")
            current.append(core, style)
            room -= width(core)
            spaces = min(len(word) - len(core), max(room, 0))  # none past the edge
            current.append(" " * spaces, style)
            room -= spaces
        if current.spans:
            lines.append(current)
        return lines

    def render(self, limit: int | None) -> list[Line]:
        return self.wrap(limit)

    def __repr__(self) -> str:
        return f"Line({self.plain!r})"


def _words(spans: Iterable[tuple[str, str]]) -> Iterable[tuple[str, str]]:
    """Each span cut after every run of spaces: the places a line may break."""
    for text, style in spans:
        start = 0
        for index in range(1, len(text)):
            if text[index - 1] == " " and text[index] != " ":
                yield text[start:index], style
                start = index
        yield text[start:], style


def pad(line: Line, cells: int, justify: str = "left") -> Line:
    """`line` cropped or padded with spaces to exactly `cells`."""
    line = line.crop(cells)
    gap = cells - line.width
    if gap <= 0:
        return line
    if justify == "right":
        return Line(" " * gap).extend(line)
    return Line().extend(line).append(" " * gap)


class Block(Struct):
    """Lines indented by `indent` spaces, each wrapped to the width left."""

    lines: list[Line]
    indent: int = 0

    def render(self, limit: int | None) -> list[Line]:
        room = None if limit is None else max(10, limit - self.indent)
        prefix = " " * self.indent
        out = []
        for line in self.lines:
            for part in line.wrap(room):
                out.append(Line(prefix).extend(part) if prefix else part)
        return out


class Group(Struct):
    """Views one after another."""

    views: list[View]

    def render(self, limit: int | None) -> list[Line]:
        return [line for view in self.views for line in view.render(limit)]


Cell = str | Line | list[Line]


class Column(Struct):
    """A table column. `shrink_to`: the narrowest it may get (None: never narrower than
    its widest cell); `drop`: dropped, lowest first, when even the narrowest layout is too
    wide (0: never); `wrap`: cells fold onto more lines instead of ending in `…`;
    `optional`: left out when none of its cells has anything in it."""

    header: str = ""
    justify: str = "left"
    shrink_to: int | None = None
    drop: int = 0
    wrap: bool = False
    style: str = ""
    optional: bool = False


class Table(Struct):
    """Rows of cells under optional headers; `add_line` adds a line across the table
    that starts at column `at` (a section heading, a note) and is never cut."""

    columns: list[Column]
    headers: bool = True
    gap: int = 2
    rows: list[tuple[str, Sequence[Cell] | Line, int]] = field(default_factory=list)

    def add_row(self, *cells: Cell) -> None:
        self.rows.append(("row", cells, 0))

    def add_line(self, line: Line, at: int = 0) -> None:
        self.rows.append(("line", line, at))

    def render(self, limit: int | None) -> list[Line]:
        widths, shown = self._natural()
        if limit is not None:
            shown, widths = self._fit(shown, widths, limit)
        out: list[Line] = []
        if self.headers:
            header = Line()
            for number, index in enumerate(shown):
                column = self.columns[index]
                cell = pad(Line((column.header, "bold")), widths[index], column.justify)
                header.append(" " * self.gap if number else "").extend(cell)
            out.append(header)
            total = sum(widths[i] for i in shown) + self.gap * (len(shown) - 1)
            out.append(Line(("─" * total, "dim")))
        for kind, content, at in self.rows:
            if kind == "line":
                assert isinstance(content, Line)
                offset = sum(widths[i] + self.gap for i in shown if i < at)
                room = None if limit is None else max(10, limit - offset)
                out += [Line(" " * offset).extend(part) for part in content.wrap(room)]
            else:
                assert not isinstance(content, Line)
                out += self._row(content, shown, widths)
        return out

    def _natural(self) -> tuple[list[int], list[int]]:
        """The widest cell of each column, and the columns that have any content."""
        widths = [0] * len(self.columns)
        for kind, content, _ in self.rows:
            if kind != "row":
                continue
            for index, cell in enumerate(content):  # type: ignore[arg-type]
                if isinstance(cell, str):
                    cells = width(cell)
                elif isinstance(cell, Line):
                    cells = cell.width
                else:
                    cells = max((line.width for line in cell), default=0)
                if cells > widths[index]:
                    widths[index] = cells
        filled = [i for i, column in enumerate(self.columns) if widths[i] or not column.optional]
        if self.headers:
            widths = [max(w, width(c.header)) for w, c in zip(widths, self.columns, strict=True)]
        return widths, filled

    def _fit(self, shown: list[int], widths: list[int], limit: int) -> tuple[list[int], list[int]]:
        """Shrink, then drop, columns until the table fits in `limit` (if it can)."""
        natural = list(widths)
        droppable = sorted((c.drop, i) for i, c in enumerate(self.columns) if c.drop)
        while True:
            widths = list(natural)
            excess = sum(widths[i] for i in shown) + self.gap * (len(shown) - 1) - limit
            floors = {i: self.columns[i].shrink_to for i in shown}
            while excess > 0:
                give = sorted(
                    (i for i in shown if (floor := floors[i]) is not None and widths[i] > floor),
                    key=lambda i: -widths[i],
                )
                if not give:
                    break
                widest, floor = give[0], floors[give[0]] or 0
                runner_up = widths[give[1]] if len(give) > 1 else 0
                step = max(1, min(excess, widths[widest] - max(floor, runner_up)))
                widths[widest] -= step
                excess -= step
            if excess <= 0 or not droppable:
                return shown, widths
            _, gone = droppable.pop(0)
            shown = [i for i in shown if i != gone]

    def _row(self, cells: Sequence[Cell], shown: list[int], widths: list[int]) -> list[Line]:
        """One row as lines: each cell padded (or cut) to its column; a row is as tall as
        its tallest cell. Plain-text cells take a fast path: `board list` draws
        thousands."""
        blocks: list[list[list[tuple[str, str]]]] = []
        for index in shown:
            column, cells_width = self.columns[index], widths[index]
            cell = cells[index] if index < len(cells) else ""
            if isinstance(cell, str) and not (column.wrap and width(cell) > cells_width):
                used = width(cell)
                if used > cells_width:
                    cell = _cut(cell, cells_width - 1).rstrip(" ") + ELLIPSIS
                    used = width(cell)
                fill = " " * (cells_width - used)
                text = fill + cell if column.justify == "right" else cell + fill
                blocks.append([[(text, column.style)]])
                continue
            if isinstance(cell, str):
                lines = [Line((cell, column.style))]
            else:
                lines = [cell] if isinstance(cell, Line) else cell
            if column.wrap:
                lines = [part for line in lines for part in line.wrap(cells_width)]
            blocks.append([pad(line, cells_width, column.justify).spans for line in lines])
        gap = (" " * self.gap, "")
        out = []
        for row in range(max((len(block) for block in blocks), default=1) or 1):
            line = Line()
            for number, block in enumerate(blocks):
                if number:
                    line.spans.append(gap)
                if row < len(block):
                    line.spans.extend(block[row])
                else:
                    line.spans.append((" " * widths[shown[number]], ""))
            out.append(line)
        return out


# -- the terminal -------------------------------------------------------------------


def terminal_width(stream: TextIO | None = None) -> int | None:
    """How wide to draw: `COLUMNS` when set, the terminal's width, or None for a pipe
    or file (nothing is cut there)."""
    stream = stream or sys.stdout
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if _is_terminal(stream):
        try:
            return os.get_terminal_size(stream.fileno()).columns or 80
        except (OSError, ValueError):
            return 80
    return None


def use_colour(stream: TextIO | None = None) -> bool:
    """Colour on a terminal, unless `NO_COLOR` is set or `TERM=dumb`; `FORCE_COLOR`
    forces it (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return os.environ.get("TERM") != "dumb" and _is_terminal(stream or sys.stdout)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def encode(lines: Iterable[Line], colour: bool) -> str:
    """The lines as text, with escape sequences for their styles when `colour`; trailing
    spaces are dropped."""
    out = []
    for line in lines:
        if colour:
            parts = []
            for text, style in line.spans:
                code = sgr(style) if style else ""
                parts.append(f"{code}{text}\x1b[0m" if code else text)
            out.append("".join(parts).rstrip(" "))
        else:
            out.append("".join(text for text, _ in line.spans).rstrip(" "))
    return "".join(f"{text}\n" for text in out)


def show(view: View, stream: TextIO | None = None) -> None:
    """Draw `view` on `stream` (stdout) for its width and colours."""
    stream = stream or sys.stdout
    stream.write(encode(view.render(terminal_width(stream)), use_colour(stream)))
