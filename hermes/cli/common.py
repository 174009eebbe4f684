"""Small pieces every command shares: opening the board, card ids, JSON output.

Kept free of rich and of anything slow to import: `hermes board add` must start fast.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from board import Store, open_store
from board.db import LARGEST
from hermes.errors import InvalidInput, NotFound
from hermes.paths import board_url

#: Objects per write of `print_json_lines`.
CHUNK = 1000

_CARD_ID = re.compile(r"(?:#|card-)?(\d+)", re.IGNORECASE)


def open_board() -> Store:
    """The board at `HERMES_DB_URL` or `$HERMES_HOME/board.db`, created on first use."""
    return open_store(board_url())


def card_id(text: str) -> int:
    """A card id as users write it: `12`, `#12` or `card-12`."""
    match = _CARD_ID.fullmatch(text.strip())
    if match is None:
        raise InvalidInput(f"{text!r} is not a card id; card ids are numbers such as 12")
    number = int(match[1])
    if number > LARGEST:  # no row can have it, and SQLite cannot even be asked
        raise NotFound(f"card {number} does not exist; see `hermes board list --all`")
    return number


def job_id(text: str) -> int:
    """A cron job id: a number, as `hermes cron list` shows it."""
    if not text.strip().isdigit():
        raise InvalidInput(f"{text!r} is not a cron job id; see `hermes cron list`")
    number = int(text)
    if number > LARGEST:
        raise NotFound(f"cron job {number} does not exist; see `hermes cron list`")
    return number


def within(name: str, value: float, low: float, high: float, unit: str = "") -> float:
    """`value` if `low <= value <= high`; NaN and infinities are refused too."""
    if not low <= value <= high:
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        raise InvalidInput(f"{name} {shown} must be between {low:,g} and {high:,g}{unit}")
    return value


def print_json(value: Any) -> None:
    """Exactly one JSON document on stdout, indented for people."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2))
    sys.stdout.write("\n")


def print_json_lines(items: list[dict[str, Any]]) -> None:
    """A JSON array with one compact object per line.

    Still one document for `jq`, but written by msgspec's encoder (indenting switches
    json to pure Python, five times slower on a board of 100,000 cards; msgspec writes
    UTF-8 a few times faster than json's C encoder) and easy to grep.
    """
    from msgspec.json import Encoder

    encode = Encoder().encode
    out = getattr(sys.stdout, "buffer", None)
    write = out.write if out is not None else lambda data: sys.stdout.write(data.decode())
    sys.stdout.flush()
    if not items:
        write(b"[]\n")
        return
    write(b"[\n")
    for start in range(0, len(items), CHUNK):  # streamed: a huge board is never one string
        chunk = b",\n".join(encode(item) for item in items[start : start + CHUNK])
        write(chunk + (b",\n" if start + CHUNK < len(items) else b"\n]\n"))
