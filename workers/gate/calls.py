"""What peeling a wrapper off a command yields, and the helpers wrapper handlers share.

Split from `wrappers` so that families of wrappers (`sandbox`: tracers, sandboxes,
other roots) can live in their own modules and still be registered in one table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from workers.gate.argv import assignment, parse_options
from workers.gate.words import Part, Word, join

#: Where a shell string runs: in this very shell (`eval`), on a copy of it that changes
#: nothing after (`trap`: it runs later), or in a new shell that only inherits what was
#: exported (`bash -c`).
Scope = Literal["same", "copy", "new"]


@dataclass(frozen=True, slots=True)
class ShellString:
    """A string another shell will parse and run; `args` become its `$0`, `$1`..."""

    text: Word
    how: str
    scope: Scope = "new"
    args: tuple[Word, ...] = ()


@dataclass(slots=True)
class Call:
    """A command with its wrappers peeled off, and what the wrappers changed."""

    argv: list[Word]
    wrappers: list[str] = field(default_factory=list)
    user: str | None = None
    remote: str | None = None
    cwd: Word | None = None
    env: dict[str, Word] = field(default_factory=dict)
    script: ShellString | None = None
    feed: tuple[Word, ...] = ()


#: A wrapper's handler: given its arguments, the command it runs ([] for none), or None
#: when this use of the program does not run another command.
Handler = Callable[[list[Word], Call], list[Word] | None]


def assignments(words: list[Word], call: Call) -> list[Word]:
    """Leading `NAME=value` words go into the command's environment."""
    rest = list(words)
    while rest and (pair := assignment(rest[0])) is not None:
        call.env[pair[0]] = pair[1]
        rest.pop(0)
    return rest


def plain(short: str = "", long: tuple[str, ...] = (), stop: tuple[str, ...] = ()) -> Handler:
    """A wrapper with options, then the command (`nice -n 5 CMD`, `nohup CMD`)."""

    def handler(args: list[Word], call: Call) -> list[Word] | None:
        """The command after the wrapper's options (none when `stop` says so)."""
        opts = parse_options(args, short, long)
        return [] if opts.has(*stop) else opts.operands

    return handler


def skip_then(count: int, short: str = "", long: tuple[str, ...] = ()) -> Handler:
    """Options, `count` operands of its own (a duration, a mask), then the command."""

    def handler(args: list[Word], call: Call) -> list[Word] | None:
        """The command after the options and the wrapper's own operands."""
        opts = parse_options(args, short, long)
        if opts.has("-p", "--pid", "-P", "--pgid", "-u", "--uid"):
            return []
        return opts.operands[count:]

    return handler


def substitute(word: Word, marker: str, value: Word) -> Word:
    """`marker` (`{}`) in an exact piece of `word` replaced by `value`'s parts."""
    parts: list[Part] = []
    for part in word.parts:
        if part.kind != "lit" or marker not in part.text:
            parts.append(part)
            continue
        pieces = part.text.split(marker)
        for i, piece in enumerate(pieces):
            if i:
                parts.extend(value.parts)
            parts.append(Part(piece))
    return join(parts, word.ran | value.ran)
