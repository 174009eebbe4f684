"""`hermes board approve|reject|reply`: answer a card that is waiting for a person.

A card pauses in `needs_input` when its agent wants to run a risky command (an approval
request) or asks a question (`ask_human`). These commands are the answers; the chat
gateway will drive exactly the same transitions.
"""

from __future__ import annotations

from typing import Annotated

import typer

from board.clock import utcnow
from hermes.cli.board_cmd import board_app
from hermes.cli.common import open_board
from hermes.cli.options import CardId
from hermes.errors import InvalidInput


@board_app.command("approve")
def approve(card: CardId) -> None:
    """Approve the risky command a paused card is waiting to run."""
    with open_board() as store:
        store.answer(card, utcnow(), "approved", {})
    print(f"card {card}: approved; it is running again")


@board_app.command("reject")
def reject(
    card: CardId,
    reason: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Why; the agent is told this.")
    ] = None,
) -> None:
    """Refuse the risky command; the agent gets the reason as the command's result."""
    with open_board() as store:
        store.answer(card, utcnow(), "rejected", {"reason": reason or "rejected"})
    print(f"card {card}: rejected; the agent carries on without it")


@board_app.command("reply")
def reply(
    card: CardId,
    text: Annotated[str, typer.Argument(metavar="TEXT", help="The answer.")],
) -> None:
    """Answer the question a paused card asked; it resumes with your answer."""
    if not text.strip():
        raise InvalidInput("the reply is empty; write the answer to the card's question")
    with open_board() as store:
        store.answer(card, utcnow(), "answered", {"answer": text})
    print(f"card {card}: answered; it is running again")
