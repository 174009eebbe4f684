"""`hermes board log|merge|gc`: a card's transcript, its branch merged back, tidying up."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from board import Card, Status
from board.clock import utcnow
from hermes.cli.board_cmd import board_app
from hermes.cli.common import open_board
from hermes.cli.options import CardId
from hermes.errors import IllegalTransition, InvalidInput
from hermes.paths import logs_dir
from workers.logs import card_logs

FOLLOW_POLL = 0.2
STILL_GOING = (Status.WAITING, Status.READY, Status.RUNNING, Status.NEEDS_INPUT)


@board_app.command("log")
def log(
    card: CardId,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until the card finishes.")
    ] = False,
) -> None:
    """Print the output of every run of a card (live with --follow)."""
    with open_board() as store:
        store.card(card)  # unknown ids are an error, not an empty log
        offsets: dict[Path, int] = {}
        _print_new(card, offsets)
        if not offsets and not follow:
            print(f"card {card} has not run yet", file=sys.stderr)
        while follow:
            status = Status(store.card(card).status)
            time.sleep(FOLLOW_POLL)
            _print_new(card, offsets)
            if status not in STILL_GOING:
                break


def _print_new(card_id: int, offsets: dict[Path, int]) -> None:
    out = sys.stdout.buffer
    for path in card_logs(logs_dir(), card_id):
        with path.open("rb") as handle:
            handle.seek(offsets.get(path, 0))
            chunk = handle.read()
        if chunk:
            out.write(chunk)
            out.flush()
        offsets[path] = offsets.get(path, 0) + len(chunk)


@board_app.command("merge")
def merge(card: CardId) -> None:
    """Merge the card's branch into its base (your checkout must be clean)."""
    from worktrees import merge_card

    with open_board() as store:
        found = store.card(card)
        _check_mergeable(found)
        assert found.repo is not None and found.base is not None
        message = f"hermes: merge card {found.id}: {found.title.splitlines()[0]}"
        sha = merge_card(Path(found.repo), found.id, found.base, message)
        store.note(found.id, "merged", utcnow(), "cli", {"into": found.base, "commit": sha})
    print(f"merged hermes/card-{card} into {found.base} ({sha[:10]})")


def _check_mergeable(card: Card) -> None:
    if card.repo is None or card.base is None:
        raise InvalidInput(f"card {card.id} has no repository, so there is nothing to merge")
    if card.status not in (Status.DONE, Status.REVIEW):
        raise IllegalTransition(
            f"card {card.id} is {card.status}; merge it once it is done (or in review)"
        )
    if card.branch is None:
        raise InvalidInput(f"card {card.id} has no branch yet; it has not run")


@board_app.command("gc")
def gc() -> None:
    """Remove the worktrees and scratch workspaces of finished cards (branches stay)."""
    from worktrees import remove_worktree

    removed = 0
    with open_board() as store:
        for card in store.finished_with_workspace():
            assert card.worktree is not None
            path = Path(card.worktree)
            if card.repo is not None:
                remove_worktree(Path(card.repo), path)
            else:
                shutil.rmtree(path, ignore_errors=True)
            store.clear_worktree(card.id, utcnow())
            removed += 1
    noun = "workspace" if removed == 1 else "workspaces"
    print(f"removed {removed} {noun} of finished cards; their branches stay")
