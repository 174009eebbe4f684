"""`hermes board log|merge|gc|copy`: a card's transcript, its branch merged back, tidying
up, the whole board copied into another database."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from board import Card, CardFilter, Status, Store
from board.clock import utcnow
from hermes.cli.board_cmd import board_app
from hermes.cli.common import open_board, print_json
from hermes.cli.options import CardId, JsonFlag
from hermes.cli.printable import one_line
from hermes.errors import IllegalTransition, InvalidInput
from hermes.paths import logs_dir
from workers.logs import card_logs
from worktrees.locks import lock_file

FOLLOW_POLL = 0.2
STILL_GOING = (Status.WAITING, Status.READY, Status.RUNNING, Status.NEEDS_INPUT)


@board_app.command("log")
def log(
    card: CardId,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until the card finishes.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Print the output of every run of a card (live with --follow); a card waiting for
    a human shows what it waits for."""
    if as_json and follow:
        raise InvalidInput("--json prints the log as it is now; drop --follow (or --json)")
    with open_board() as store:
        store.card(card)  # unknown ids are an error, not an empty log
        if as_json:
            from hermes.reports import card_log

            print_json(card_log(store, card))
            return
        offsets: dict[Path, int] = {}
        _print_new(card, offsets)
        if not offsets and not follow:
            print(f"card {card} has not run yet", file=sys.stderr)
        shown: dict[str, Any] | None = None
        while follow:
            status = Status(store.card(card).status)
            shown = _show_pending(store, card, shown)
            time.sleep(FOLLOW_POLL)
            _print_new(card, offsets)
            if status not in STILL_GOING:
                break
        if not follow:
            _show_pending(store, card, None)


def _pending(store: Store, card_id: int) -> dict[str, Any] | None:
    return store.pending_requests().get(card_id)


def _show_pending(
    store: Store, card_id: int, shown: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Say what the card waits for, once per request (the log itself does not)."""
    request = _pending(store, card_id)
    if request is not None and request != shown:
        print(f"[waiting] {waiting_line(card_id, request)}", flush=True)
    return request


def waiting_line(card_id: int, request: dict[str, Any]) -> str:
    """One line saying what a paused card waits for and how to answer it."""
    if request.get("kind") == "question":
        return (
            f"card {card_id} asks: {one_line(str(request.get('question', '')))} — "
            f"answer with `hermes board reply {card_id} TEXT`"
        )
    risk = request.get("risk") or "unknown"
    return (
        f"card {card_id} waits for approval to run: {one_line(str(request.get('command', '')))}"
        f" ({risk} risk: {one_line(str(request.get('reason', '')))}) — "
        f"`hermes board approve {card_id}` or `hermes board reject {card_id}`"
    )


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
def merge(card: CardId, as_json: JsonFlag = False) -> None:
    """Merge the card's branch into its base (your checkout must be clean); for a goal,
    the branches of its done cards, in dependency order."""
    with open_board() as store:
        found = store.card(card)
        if store.goal_budget(found.id) is not None:
            report = _merge_goal(store, found)
        else:
            _check_mergeable(found)
            report = {"card": found.id, "into": found.base, "merged": [_merge_one(store, found)]}
    if as_json:
        print_json(report)
        return
    for step in report["merged"]:
        print(_said(step))
    skipped = report.get("skipped") or []
    if skipped:
        print(f"not merged (not done): {', '.join(f'card {c}' for c in skipped)}")


def _merge_one(store: Store, card: Card) -> dict[str, Any]:
    """Merge one card's branch; records `merged` only when something moved."""
    from worktrees import merge_card

    assert card.repo is not None and card.base is not None
    message = f"hermes: merge card {card.id}: {card.title.splitlines()[0]}"
    result = merge_card(Path(card.repo), card.id, card.base, message)
    step = {"card": card.id, "branch": card.branch, "into": card.base, "commit": result.commit}
    if result.moved:
        store.note(card.id, "merged", utcnow(), "cli", {"into": card.base, "commit": result.commit})
        return {**step, "result": "merged"}
    before = any(e.kind == "merged" for e in store.detail(card.id).events)
    return {**step, "result": "already merged" if before else "nothing to merge"}


def _merge_goal(store: Store, goal: Card) -> dict[str, Any]:
    """Every done child of the goal with a branch, dependencies first."""
    children = [c for c in store.children(goal.id) if c.repo is not None]
    done = [c for c in children if c.status == Status.DONE and c.branch]
    if not done:
        raise InvalidInput(
            f"goal {goal.id} has no done cards with work to merge yet; "
            f"see `hermes goal status {goal.id}`"
        )
    steps = [_merge_one(store, child) for child in _dependency_order(done)]
    skipped = [c.id for c in children if c.status != Status.DONE]
    return {"card": goal.id, "into": goal.base, "merged": steps, "skipped": skipped}


def _dependency_order(cards: list[Card]) -> list[Card]:
    """Cards sorted so that each comes after the ones (among them) it depends on."""
    by_id = {c.id: c for c in cards}
    placed: dict[int, Card] = {}

    def place(card: Card) -> None:
        if card.id in placed:
            return
        for dep in card.depends_on:
            if dep in by_id:
                place(by_id[dep])
        placed[card.id] = card

    for card in sorted(cards, key=lambda c: c.id):
        place(card)
    return list(placed.values())


def _said(step: dict[str, Any]) -> str:
    branch, into = step["branch"], step["into"]
    if step["result"] == "merged":
        return f"merged {branch} into {into} ({step['commit'][:10]})"
    if step["result"] == "already merged":
        return f"already merged: {into} has every commit of {branch}"
    return f"nothing to merge: {branch} has no commits that {into} lacks"


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
def gc(
    branches: Annotated[
        bool,
        typer.Option("--branches", help="Also delete the branches of finished, merged cards."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Remove the worktrees and scratch workspaces of finished cards (and, with
    --branches, their branches once merged into their base)."""
    with open_board() as store:
        removed = [_remove_workspace(store, card) for card in store.finished_with_workspace()]
        deleted = _delete_merged_branches(store) if branches else []
    if as_json:
        print_json({"removed": removed, "deleted_branches": deleted})
        return
    noun = "workspace" if len(removed) == 1 else "workspaces"
    kept = "" if branches else "; their branches stay"
    print(f"removed {len(removed)} {noun} of finished cards{kept}")
    if branches:
        noun = "branch" if len(deleted) == 1 else "branches"
        print(
            f"deleted {len(deleted)} merged {noun}" + (f": {', '.join(deleted)}" if deleted else "")
        )


@board_app.command("copy")
def copy(
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="URL",
            help="The empty database to copy into: sqlite:///PATH or postgresql://USER@HOST/DB.",
        ),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Copy this board (cards, dependencies, runs, events, cron jobs, chat
    subscriptions) into an empty database of either kind, keeping ids; then point
    HERMES_DB_URL at it."""
    from board.copy import copy_board
    from board.db import engine_of

    engine_of(to, "--to")  # a bad URL is refused before the board is opened
    with open_board() as store:
        copied = copy_board(store, to)
    if as_json:
        print_json(copied.to_json())
        return
    moved = ", ".join(f"{count:,} {table}" for table, count in copied.rows.items() if count)
    print(f"copied {moved or 'an empty board'} to {copied.target}")
    print(f"to use it, point HERMES_DB_URL at {copied.target}", file=sys.stderr)


def _remove_workspace(store: Store, card: Card) -> str:
    """Remove a finished card's worktree (or scratch workspace) and its lock file."""
    from worktrees import remove_worktree

    assert card.worktree is not None
    path = Path(card.worktree)
    if card.repo is not None:
        remove_worktree(Path(card.repo), path)
    else:
        shutil.rmtree(path, ignore_errors=True)
    lock_file(path).unlink(missing_ok=True)
    store.clear_worktree(card.id, utcnow())
    return str(path)


def _delete_merged_branches(store: Store) -> list[str]:
    """The branches of finished cards (without a worktree) that their base contains."""
    from worktrees import contains, delete_branch

    finished = CardFilter(statuses=[Status.DONE, Status.CANCELLED, Status.FAILED], include_old=True)
    deleted = []
    for card in store.list_cards(finished, utcnow()):
        if not (card.branch and card.repo and card.base) or card.worktree is not None:
            continue
        repo = Path(card.repo)
        if repo.is_dir() and contains(repo, card.base, card.branch):  # False once deleted
            delete_branch(repo, card.branch)
            deleted.append(card.branch)
    return deleted
