"""The terminal text engine: widths, cutting and folding, and the table layout."""

from __future__ import annotations

from board.clock import compact_seconds
from hermes.cli.text import Column, Line, Table, encode, width


def plain(lines: list[Line]) -> list[str]:
    return encode(lines, colour=False).splitlines()


def test_width_counts_terminal_cells() -> None:
    assert width("abc") == 3
    assert width("漢字") == 4  # wide
    assert width("e\u0301") == 1  # a combining accent takes no cell
    assert width("a\u200bb") == 2  # nor a zero-width space


def test_crop_ends_in_an_ellipsis_and_never_splits_a_wide_character() -> None:
    assert Line("hello world").crop(8).plain == "hello w…"
    assert Line("hello").crop(5).plain == "hello"
    assert Line("漢字漢字").crop(4).plain == "漢…"
    assert Line(("red", "red"), " and plain").crop(6).spans == [
        ("red", "red"),
        (" a", ""),
        ("…", ""),
    ]


def test_wrap_breaks_at_spaces_and_never_loses_a_character() -> None:
    text = "approve: git push --force origin main (high risk)"
    lines = Line(text).wrap(14)
    assert [line.plain.rstrip() for line in lines] == [
        "approve: git",
        "push --force",
        "origin main",
        "(high risk)",
    ]
    long = "x" * 30
    assert [line.plain for line in Line(long).wrap(12)] == ["x" * 12, "x" * 12, "x" * 6]
    assert "".join(line.plain for line in Line(text).wrap(7)).replace(" ", "") == text.replace(
        " ", ""
    )


def table() -> Table:
    grid = Table(
        [
            Column("ID", justify="right"),
            Column("Title", shrink_to=8),
            Column("Pri", justify="right", drop=1, optional=True),
            Column("Note", shrink_to=6, wrap=True),
        ]
    )
    grid.add_row("7", "A title that is rather long", "", "one two three four")
    grid.add_row("1234", "Short", "", "x")
    return grid


def test_a_table_at_its_natural_width() -> None:
    lines = plain(table().render(None))
    assert lines[0] == "  ID  Title                        Note"  # Pri has no content: left out
    assert lines[2] == "   7  A title that is rather long  one two three four"
    assert lines[3] == "1234  Short                        x"


def test_a_narrow_table_shrinks_its_widest_columns_and_keeps_ids_whole() -> None:
    lines = plain(table().render(26))
    assert all(len(line) <= 26 for line in lines)
    assert lines[2].split()[:5] == ["7", "A", "title…", "one", "two"]  # cut, folded
    assert lines[2].startswith("   7  ")
    assert [line.strip() for line in lines[3:5]] == ["three", "four"]
    assert lines[-1].startswith("1234  Short")


def test_a_table_too_narrow_for_its_minimums_drops_optional_columns_then_overflows() -> None:
    grid = Table([Column("ID"), Column("Pri", drop=1), Column("Title", shrink_to=8)])
    grid.add_row("123456", "5", "Something long enough")
    assert plain(grid.render(16)) == ["ID      Title", "─" * 16, "123456  Somethi…"]
    too_small = plain(grid.render(4))
    assert too_small[-1] == "123456  Somethi…"  # the id is whole even past the edge


def test_lines_across_a_table_fold_and_start_at_their_column() -> None:
    grid = Table([Column("ID"), Column("Title", shrink_to=5)])
    grid.add_row("1", "x")
    grid.add_line(Line("… 40 more: hermes board list --status ready --limit 0"), at=1)
    lines = plain(grid.render(30))
    assert lines[3] == "    … 40 more: hermes board"  # under the title: ID (2) and a gap
    assert lines[4] == "    list --status ready"
    assert lines[5] == "    --limit 0"


def test_colour_is_escape_codes_around_each_styled_span() -> None:
    out = encode([Line(("ready", "cyan"), " 3   ")], colour=True)
    assert out == "\x1b[36mready\x1b[0m 3\n"


def test_durations_round_to_the_nearest_unit() -> None:
    assert compact_seconds(7199.9) == "2h"  # `--at +2h` a moment later: still "in 2h"
    assert compact_seconds(5399) == "1h" and compact_seconds(5400) == "2h"
    assert compact_seconds(59.6) == "1m" and compact_seconds(3590) == "1h"
    assert compact_seconds(42.4) == "42s" and compact_seconds(-3) == "0s"
    assert compact_seconds(86400 * 2.2) == "2d" and compact_seconds(86000) == "1d"
