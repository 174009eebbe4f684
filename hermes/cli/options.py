"""The arguments and options several commands share, and reading a card body."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from board.cards import MAX_TEXT_BYTES
from hermes.cli.common import card_id, job_id
from hermes.errors import InvalidInput

CardId = Annotated[
    int, typer.Argument(parser=card_id, metavar="ID", help="Card id (12, #12 or card-12).")
]
JobId = Annotated[int, typer.Argument(parser=job_id, metavar="ID", help="The cron job's id.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document instead.")]


def read_body(body: str | None, body_file: str | None) -> str:
    """The text of `--body` or `--body-file` (a path, or - for stdin), exactly as given."""
    if body is not None and body_file is not None:
        raise InvalidInput("give the body with --body or --body-file, not both")
    if body_file is None:
        return body or ""
    source = "--body-file - (standard input)" if body_file == "-" else f"--body-file {body_file}"
    try:
        if body_file == "-":
            raw = sys.stdin.buffer.read(MAX_TEXT_BYTES + 1)
        else:
            with Path(body_file).open("rb") as handle:  # never read more than can be kept
                raw = handle.read(MAX_TEXT_BYTES + 1)
    except OSError as exc:
        raise InvalidInput(f"{source}: {exc.strerror}; check the path") from exc
    if len(raw) > MAX_TEXT_BYTES:
        raise InvalidInput(
            f"{source} is larger than {MAX_TEXT_BYTES:,} bytes (1 MiB), the limit for a "
            "card body; put the data in a file the card names instead"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{source} is not UTF-8 text; convert it first") from None
