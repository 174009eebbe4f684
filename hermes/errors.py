"""The error types every hermes package raises for problems a user can act on.

One root, `HermesError`, so the command line can turn any of them into exactly one
`error:` line and an exit code without knowing where it came from. The message is the
whole user-facing text: it names the bad value and, where one exists, the fix.
"""

from __future__ import annotations

from collections.abc import Callable


def flag(field: str) -> str:
    """A field as the command line spells it: `max_attempts` is `--max-attempts`."""
    return "--" + field.replace("_", "-")


class HermesError(Exception):
    """A problem the user can fix; the CLI prints its message after `error: `.

    `exit_code` is 2 for bad input (the default); environment faults that are not the
    input's fault (an unwritable home, a full disk) use 1.

    `retryable` says whether a card attempt that failed with this error may succeed if
    tried again (a provider's hiccup, a busy workspace). A permanent one (a missing key,
    a deleted profile, a merge conflict between the card's dependencies) fails the card
    at once, with the fix in its message, instead of waiting through every retry.
    """

    exit_code: int = 2
    retryable: bool = True

    def __init__(
        self, message: str = "", *, field: str | None = None, cli_hint: str | None = None
    ) -> None:
        """`message` may say `{field}` where the field it is about goes: each front door
        names it in its own words (`--priority` on the command line, `priority` in an
        API, never a flag in a chat). `cli_hint` is a next step only a terminal user can
        take (`see hermes board list`)."""
        super().__init__(message)
        self.message, self.field, self.cli_hint = message, field, cli_hint

    def worded(self, name: Callable[[str], str] = str, *, hints: bool = False) -> str:
        """The message with the field named by `name`, and the command-line hint if
        `hints`; the plain default is what an API, MCP client or chat user reads."""
        text = self.message.replace("{field}", name(self.field)) if self.field else self.message
        return f"{text}; {self.cli_hint}" if hints and self.cli_hint else text

    def __str__(self) -> str:
        """The command line's wording (what `error:` prints)."""
        return self.worded(flag, hints=True)


class InvalidInput(HermesError):
    """A value given by the user is malformed or out of range."""


class NotFound(HermesError):
    """A card, profile or other named thing does not exist."""

    retryable = False


class CycleError(HermesError):
    """A dependency would make a cycle; the message names the cycle."""


class IllegalTransition(HermesError):
    """A card cannot move from its current status to the one asked for."""


class Fenced(HermesError):
    """A worker's write was refused: its run no longer holds the card (lease lost)."""

    exit_code = 1


class ProfileError(HermesError):
    """A profile file is unreadable or invalid; the message names file, field and fix."""

    retryable = False


class StorageError(HermesError):
    """The board database cannot be opened or written (permissions, disk, corruption)."""

    exit_code = 1
