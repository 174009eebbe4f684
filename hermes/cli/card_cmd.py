"""`hermes board edit|archive|diff|open`: change a card, put it away, see and enter its work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from board import CardFilter, Status
from board.clock import utcnow
from hermes.cli.board_cmd import board_app
from hermes.cli.common import card_id, open_board, print_json
from hermes.cli.options import CardId, JsonFlag, read_body
from hermes.errors import InvalidInput


@board_app.command("edit")
def edit(
    card: CardId,
    title: Annotated[str | None, typer.Option(metavar="TEXT", help="A new title.")] = None,
    body: Annotated[str | None, typer.Option(metavar="TEXT", help="A new body.")] = None,
    body_file: Annotated[
        str | None,
        typer.Option("--body-file", metavar="PATH", help="Read the new body from PATH or -."),
    ] = None,
    profile: Annotated[str | None, typer.Option(metavar="NAME", help="Another profile.")] = None,
    priority: Annotated[int | None, typer.Option(help="A new priority.")] = None,
    label: Annotated[
        list[str] | None,
        typer.Option(metavar="TEXT", help="Replace the labels with these (repeatable)."),
    ] = None,
    no_labels: Annotated[bool, typer.Option("--no-labels", help="Remove every label.")] = False,
    model: Annotated[
        str | None,
        typer.Option(metavar="MODEL", help="This card's model, instead of its profile's."),
    ] = None,
    no_model: Annotated[
        bool, typer.Option("--no-model", help="Use the profile's model again.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Change a card's title, body, profile, priority, labels or model (not while a
    worker holds it)."""
    from hermes.intake import edit_card

    changes = _changes(title, body, body_file, profile, priority, label, no_labels)
    if model is not None and no_model:
        raise InvalidInput("give --model or --no-model, not both")
    if model is not None or no_model:
        changes["model"] = None if no_model else model
    if not changes:
        raise InvalidInput(
            "nothing to change; give --title, --body, --profile, --priority, --label or --model"
        )
    with open_board() as store:
        changed = edit_card(store, card, changes, utcnow())
        if as_json:
            print_json({**store.card(card).to_json(), "changed": changed})
            return
    print(f"card {card}: changed {', '.join(changed)}" if changed else f"card {card}: no change")


def _changes(
    title: str | None,
    body: str | None,
    body_file: str | None,
    profile: str | None,
    priority: int | None,
    label: list[str] | None,
    no_labels: bool,
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if title is not None:
        changes["title"] = title
    if body is not None or body_file is not None:
        changes["body"] = read_body(body, body_file)
    if profile is not None:
        changes["profile"] = profile
    if priority is not None:
        changes["priority"] = priority
    if label and no_labels:
        raise InvalidInput("give --label or --no-labels, not both")
    if label or no_labels:
        changes["labels"] = [] if no_labels else list(label or [])
    return changes


@board_app.command("archive")
def archive(
    cards: Annotated[
        list[str] | None,
        typer.Argument(metavar="ID...", help="Finished cards to put away."),
    ] = None,
    finished: Annotated[
        bool,
        typer.Option("--finished", help="Every done or cancelled card (failed ones stay)."),
    ] = False,
    undo: Annotated[bool, typer.Option("--undo", help="Bring the cards back.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Put finished cards away: gone from list, watch and stats, kept in their history
    (`board show`, `board list --archived`)."""
    ids = [card_id(text) for text in cards or []]
    if not ids and not finished:
        raise InvalidInput("name the cards to archive (ids), or give --finished")
    now = utcnow()
    with open_board() as store:
        if finished:
            done = CardFilter(statuses=[Status.DONE, Status.CANCELLED], include_old=True)
            ids += [c.id for c in store.list_cards(done, now) if c.id not in ids]
        for one in ids:
            store.card(one)  # every id is checked before anything changes
        changed = [one for one in ids if store.archive(one, now, undo=undo)]
    if as_json:
        print_json({"archived" if not undo else "unarchived": changed})
        return
    verb = "brought back" if undo else "archived"
    noun = "card" if len(changed) == 1 else "cards"
    print(
        f"{verb} {len(changed)} {noun}" + (f": {', '.join(map(str, changed))}" if changed else "")
    )


@board_app.command("diff")
def diff(
    card: CardId,
    stat: Annotated[
        bool, typer.Option("--stat", help="Only which files changed, and how much.")
    ] = False,
) -> None:
    """Show what the card's branch changed since it left its base."""
    from worktrees import card_diff

    with open_board() as store:
        found = store.card(card)
    if found.repo is None or found.base is None:
        raise InvalidInput(f"card {card} has no repository: its work is in its scratch workspace")
    if found.branch is None:
        raise InvalidInput(f"card {card} has no branch yet; it has not run")
    text = card_diff(Path(found.repo), found.base, found.branch, stat=stat)
    if text:
        sys.stdout.write(text.rstrip("\n") + "\n")
    else:
        print(f"{found.branch} changes nothing against {found.base}", file=sys.stderr)


@board_app.command("open")
def open_card(
    card: CardId,
    print_path: Annotated[
        bool, typer.Option("--print", help="Print the workspace's path instead.")
    ] = False,
) -> None:
    """Open a shell in the card's worktree (or scratch workspace)."""
    from worktrees import SAFE_ENV, checked_worktree

    with open_board() as store:
        found = store.card(card)
    if found.worktree is None or not Path(found.worktree).is_dir():
        hint = "it has not run yet" if found.worktree is None else "`board gc` removed it"
        raise InvalidInput(f"card {card} has no workspace to open: {hint}")
    path = Path(found.worktree)
    if found.repo is not None:
        checked_worktree(Path(found.repo), found.id, path)
    if print_path:
        print(path)
        return
    shell = os.environ.get("SHELL") or "/bin/sh"
    where = f" on {found.branch}" if found.branch else ""
    print(f"a shell in card {card}'s workspace {path}{where}; exit to come back", file=sys.stderr)
    # hermes' safe git settings: card work wrote this tree (hooks and fsmonitor stay off)
    env = {**os.environ, **SAFE_ENV, "HERMES_CARD_ID": str(card)}
    raise typer.Exit(subprocess.run([shell], cwd=path, env=env).returncode)
