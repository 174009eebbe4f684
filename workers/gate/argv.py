"""Reading a program's argument list: options, operands, assignments.

Every rule needs the same questions answered about an argv: which words are options,
which take a value (`-u root`, `--user=root`, `-uroot`), where operands start, whether
`-uf` hides a `-f`. They are answered here once, the way getopt does, so the rules only
say which letters mean what.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from workers.gate.words import Word, lit, tail

ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(slots=True)
class Options:
    """The options seen (`-x`, `--name`, with their values) and the operands after them."""

    seen: dict[str, Word | None] = field(default_factory=dict)
    operands: list[Word] = field(default_factory=list)
    given: list[tuple[str, Word]] = field(default_factory=list)

    def add(self, name: str, value: Word | None) -> None:
        """Record an option (the last value wins in `seen`; `given` keeps them all)."""
        self.seen[name] = value
        if value is not None:
            self.given.append((name, value))

    def every(self, *names: str) -> list[Word]:
        """Every value given to any of the options, in order (`-v a -v b`)."""
        return [value for name, value in self.given if name in names]

    def has(self, *names: str) -> bool:
        """Whether any of the options was given."""
        return any(n in self.seen for n in names)

    def get(self, *names: str) -> Word | None:
        """The value of the first of the options that was given with one."""
        return next((v for n in names if (v := self.seen.get(n)) is not None), None)


def parse_options(
    args: Iterable[Word],
    short: str = "",
    long: Iterable[str] = (),
    interleaved: bool = False,
) -> Options:
    """Split `args` into options and operands, getopt style.

    `short` lists the letters that take a value, `long` the long names that do. Options
    stop at `--` or at the first operand, unless `interleaved` (GNU style: options may
    follow operands, as in `rm dir -rf`).
    """
    words = list(args)
    takes = frozenset(long)
    out = Options()
    i = 0
    while i < len(words):
        text = words[i].value
        if text == "--":
            out.operands.extend(words[i + 1 :])
            break
        if text is None or text == "-" or not text.startswith("-"):
            out.operands.append(words[i])
            i += 1
            if not interleaved:
                out.operands.extend(words[i:])
                break
            continue
        i = _option(words, i, short, takes, out)
    return out


def _option(words: list[Word], i: int, short: str, takes: frozenset[str], out: Options) -> int:
    """Record the option at `i` (and its value); the index after it."""
    text = words[i].value or ""
    if text.startswith("--"):
        name, eq, _value = text[2:].partition("=")
        if eq:
            out.add(f"--{name}", tail(words[i], len(name) + 3))
            return i + 1
        if name in takes:
            out.add(f"--{name}", words[i + 1] if i + 1 < len(words) else lit(""))
            return i + 2
        out.add(f"--{name}", None)
        return i + 1
    for j, letter in enumerate(text[1:], start=1):
        if letter in short:
            if j + 1 < len(text):
                out.add(f"-{letter}", tail(words[i], j + 1))
                return i + 1
            out.add(f"-{letter}", words[i + 1] if i + 1 < len(words) else lit(""))
            return i + 2
        out.add(f"-{letter}", None)
    return i + 1


def short_flag(words: Iterable[Word], letter: str, long: Iterable[str] = ()) -> bool:
    """Whether `-<letter>` is given, alone or in a cluster (`-uf`), or a long spelling.

    Only for programs whose other short options take no value that could contain the
    letter; the caller chooses where that holds.
    """
    names = frozenset(long)
    for word in words:
        text = word.value or ""
        if text.startswith("--"):
            if text[2:].partition("=")[0] in names:
                return True
        elif text.startswith("-") and letter in text[1:]:
            return True
    return False


def assignment(word: Word) -> tuple[str, Word] | None:
    """`NAME=value` as (NAME, value), or None for any other word."""
    match = ASSIGNMENT.match(word.known)
    if match is None:
        return None
    name = match.group()[:-1]
    return name, tail(word, len(name) + 1)


def first_operand(args: Iterable[Word], short: str = "", long: Iterable[str] = ()) -> int:
    """How many leading words are options (with their values) before the first operand."""
    words = list(args)
    opts = parse_options(words, short, long)
    return len(words) - len(opts.operands)
