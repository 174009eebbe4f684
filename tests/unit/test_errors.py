"""Errors carry the field they are about; each front door words them its own way."""

from __future__ import annotations

from board import NewCard
from board.card_ops import check_new_card
from hermes.errors import HermesError, InvalidInput, NotFound


def test_the_command_line_names_the_flag_other_doors_the_field() -> None:
    try:
        check_new_card(NewCard("x", "shell", 0))
    except InvalidInput as exc:
        error: HermesError = exc
    assert str(error) == "--max-attempts 0 must be between 1 and 1,000"
    assert error.worded() == "max_attempts 0 must be between 1 and 1,000"
    assert error.field == "max_attempts"


def test_command_line_hints_stay_on_the_command_line() -> None:
    error = NotFound("card 9 does not exist", cli_hint="see `hermes board list --all`")
    assert str(error) == "card 9 does not exist; see `hermes board list --all`"
    assert error.worded() == "card 9 does not exist"
    assert str(InvalidInput("plain")) == "plain" == InvalidInput("plain").worded()
