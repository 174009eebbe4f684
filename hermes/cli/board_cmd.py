"""`hermes board ...`: create, inspect and move cards.

Each command parses, makes one call on the store and renders the answer (a plain-text
view for people from `hermes.cli.views`, one JSON document with `--json`). Views are
imported only where one is printed, so `hermes board add` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from board import CardFilter, Status, parse_status
from board.clock import utcnow
from hermes.cli.common import card_id, open_board, print_json, print_json_lines, within
from hermes.cli.options import CardId, JsonFlag, read_body
from hermes.errors import InvalidInput

board_app = typer.Typer(
    help="Create, inspect and move the cards on the board.",
    no_args_is_help=True,
)
dep_app = typer.Typer(help="Add or remove dependencies between cards.", no_args_is_help=True)
board_app.add_typer(dep_app, name="dep")


@board_app.command("add")
def add(
    title: Annotated[
        str, typer.Argument(metavar="TITLE", help="What the card is about, in one line.")
    ],
    body: Annotated[
        str | None, typer.Option(metavar="TEXT", help="The card's full instructions.")
    ] = None,
    body_file: Annotated[
        str | None,
        typer.Option(
            "--body-file", metavar="PATH", help="Read the body from PATH, or - for stdin."
        ),
    ] = None,
    profile: Annotated[
        str, typer.Option(metavar="NAME", help="Profile that works the card.")
    ] = "default",
    after: Annotated[
        list[str] | None,
        typer.Option(metavar="ID", help="Start only after card ID is done (repeatable)."),
    ] = None,
    priority: Annotated[int, typer.Option(help="Higher runs first.")] = 0,
    repo: Annotated[
        Path | None,
        typer.Option(metavar="PATH", help="Git repository to work in (default: the current one)."),
    ] = None,
    no_repo: Annotated[
        bool, typer.Option("--no-repo", help="Work in a scratch directory, not a git worktree.")
    ] = False,
    base: Annotated[
        str | None,
        typer.Option(metavar="REF", help="Branch or commit to start from (default: checked out)."),
    ] = None,
    label: Annotated[
        list[str] | None, typer.Option(metavar="TEXT", help="A label (repeatable).")
    ] = None,
    max_attempts: Annotated[
        int | None,
        typer.Option(metavar="N", help="Attempts before the card fails (default: profile's)."),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(metavar="SECONDS", help="Seconds per attempt (default: profile's)."),
    ] = None,
    backlog: Annotated[
        bool, typer.Option("--backlog", help="Park the card; it runs only once moved.")
    ] = False,
    at: Annotated[
        str | None,
        typer.Option(metavar="WHEN", help="Not before this time: ISO 8601 or +30s, +10m, +2h."),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(metavar="KEY", help="Idempotency key: an existing card with it is reused."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(metavar="MODEL", help="This card's model, instead of its profile's."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a card; prints its id (or the card as JSON with --json)."""
    from hermes.intake import CardRequest, add_card

    request = CardRequest(
        title=title,
        body=read_body(body, body_file),
        profile=profile,
        after=[card_id(value) for value in after or []],
        priority=priority,
        labels=label or [],
        repo=repo,
        no_repo=no_repo,
        base=base,
        max_attempts=max_attempts,
        timeout=timeout,
        backlog=backlog,
        at=at,
        key=key,
        model=model,
    )
    with open_board() as store:
        new_id, _ = add_card(store, request, store.now())  # --at by the board's clock
        if as_json:
            print_json(store.card(new_id).to_json())
            return
    print(new_id)


@board_app.command("list")
def list_cards(
    status: Annotated[
        list[str] | None,
        typer.Option(metavar="STATUS", help="Only cards in this status (repeatable)."),
    ] = None,
    profile: Annotated[
        str | None, typer.Option(metavar="NAME", help="Only cards of this profile.")
    ] = None,
    label: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Only cards with this label.")
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Include done/cancelled cards older than a day.")
    ] = False,
    archived: Annotated[
        bool, typer.Option("--archived", help="Only the cards put away with `board archive`.")
    ] = False,
    limit: Annotated[
        int, typer.Option(help="Rows per status in the table (0: all); JSON is never cut.")
    ] = 200,
    as_json: JsonFlag = False,
) -> None:
    """List cards grouped by status (done/cancelled older than a day hidden without --all)."""
    statuses = [parse_status(s).value for s in status or []]
    if limit < 0:
        raise InvalidInput(f"--limit {limit} must be 0 (no limit) or more")
    where = CardFilter(
        statuses=statuses, profile=profile, label=label, include_old=show_all, archived=archived
    )
    now = utcnow()
    with open_board() as store:
        cards = store.list_cards(where, now)
        if as_json:
            print_json_lines([card.to_json() for card in cards])
            return
        paused = any(card.status == Status.NEEDS_INPUT for card in cards)
        requests = store.pending_requests() if paused else {}
    from hermes.cli.text import show as draw
    from hermes.cli.views import card_list

    draw(card_list(cards, requests, now, limit or None))


@board_app.command("show")
def show(card: CardId, as_json: JsonFlag = False) -> None:
    """Show one card with its dependencies, runs and events."""
    with open_board() as store:
        detail = store.detail(card)
    if as_json:
        print_json(detail.to_json())
        return
    from hermes.cli.text import show as draw
    from hermes.cli.views import card_detail

    draw(card_detail(detail, utcnow()))


@dep_app.command("add")
def dep_add(
    card: CardId,
    on: Annotated[str, typer.Option("--on", metavar="OTHER", help="The card it must wait for.")],
) -> None:
    """Make card ID depend on card OTHER (cycles are refused)."""
    other = card_id(on)
    with open_board() as store:
        added = store.add_dependency(card, other, utcnow())
        status = store.card(card).status
    note = "now depends on" if added else "already depended on"
    print(f"card {card} {note} card {other} ({status})")


@dep_app.command("rm")
def dep_rm(
    card: CardId,
    on: Annotated[
        str, typer.Option("--on", metavar="OTHER", help="The card it should no longer wait for.")
    ],
) -> None:
    """Remove the dependency of card ID on card OTHER."""
    other = card_id(on)
    with open_board() as store:
        store.remove_dependency(card, other, utcnow())
        status = store.card(card).status
    print(f"card {card} no longer depends on card {other} ({status})")


@board_app.command("move")
def move(
    card: CardId,
    status: Annotated[
        str, typer.Argument(metavar="STATUS", help="The status to move the card to.")
    ],
) -> None:
    """Move a card by hand (e.g. backlog -> ready, review -> done)."""
    target = parse_status(status)
    with open_board() as store:
        landed = store.move(card, target, utcnow())
    print(f"card {card} is now {landed}")


@board_app.command("cancel")
def cancel(
    card: CardId,
    reason: Annotated[str | None, typer.Option(help="Why, for the card's history.")] = None,
) -> None:
    """Cancel a card; a running attempt is stopped."""
    with open_board() as store:
        store.cancel(card, utcnow(), reason=reason)
    print(f"card {card} is now cancelled")


@board_app.command("retry")
def retry(card: CardId) -> None:
    """Run a failed or cancelled card again, with a fresh set of attempts."""
    with open_board() as store:
        landed = store.retry(card, utcnow())
    print(f"card {card} is now {landed}")


@board_app.command("comment")
def comment(
    card: CardId,
    text: Annotated[str, typer.Argument(metavar="TEXT", help="The comment.")],
) -> None:
    """Add a comment to a card's history (agents see comments)."""
    with open_board() as store:
        store.comment(card, text, utcnow())
    print(f"comment added to card {card}")


@board_app.command("stats")
def stats(as_json: JsonFlag = False) -> None:
    """Counts per status and profile, oldest ready age, runs, tokens and cost per profile."""
    now = utcnow()
    with open_board() as store:
        numbers = store.stats(now)
    if as_json:
        print_json(numbers)
        return
    from hermes.cli.text import show as draw
    from hermes.cli.views import stats_view

    draw(stats_view(numbers))


@board_app.command("watch")
def watch(
    interval: Annotated[
        float, typer.Option(metavar="SECONDS", help="Seconds between checks for changes.")
    ] = 0.2,
    once: Annotated[bool, typer.Option("--once", help="Print the board once and exit.")] = False,
) -> None:
    """A live terminal board, one column per status, redrawn on every change (in a pipe:
    the board as text, printed again on every change)."""
    from hermes.cli.watch import watch_board

    within("--interval", interval, 0.05, 60, " seconds")
    with open_board() as store:
        watch_board(store, interval, once=once)
