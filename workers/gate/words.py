"""A word as bash would hand it to a program, kept honest about what cannot be known.

Before a command runs, some of its words are exact (`-rf`, `/srv/data`), some are globs
whose matches depend on the disk (`*.pyc`), and some depend on values that only exist at
run time (`$FOO`, `$(date)`). Rules must never mistake the last kind for the first, so a
word keeps its pieces apart instead of flattening them into a string.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

PartKind = Literal["lit", "glob", "name", "hole"]


@dataclass(frozen=True, slots=True)
class Part:
    """One piece of a word.

    - `lit`: exact text;
    - `glob`: an unquoted glob pattern piece (`*`, `?`, `[a-z]`), matched on disk;
    - `name`: a run-time value known to be one path component (`$(date +%s)`, `$RANDOM`);
    - `hole`: a run-time value that may be anything; `text` is its source (`$FOO`).
    """

    text: str
    kind: PartKind = "lit"


@dataclass(frozen=True, slots=True)
class Word:
    """One argument: its parts, the programs its substitutions ran (for curl | sh), and
    how it was written when that differs from its value (for reasons: `~/x`, `$PWD/..`).
    """

    parts: tuple[Part, ...]
    ran: frozenset[str] = field(default=frozenset())
    written: str = field(default="", compare=False)

    @property
    def text(self) -> str:
        """The word as a person would read it, unknown parts shown as written."""
        return "".join(p.text for p in self.parts)

    @property
    def exact(self) -> bool:
        """Whether the whole word is known before running (no glob, no run-time value)."""
        return all(p.kind == "lit" for p in self.parts)

    @property
    def value(self) -> str | None:
        """The exact text, or None when part of the word is only known at run time."""
        return self.text if self.exact else None

    @property
    def known(self) -> str:
        """The exact text before the first glob or run-time part."""
        out = []
        for part in self.parts:
            if part.kind != "lit":
                break
            out.append(part.text)
        return "".join(out)

    @property
    def unknown(self) -> str | None:
        """The source of the first value that may be anything (`$FOO`), if any."""
        return next((p.text for p in self.parts if p.kind == "hole"), None)


def lit(text: str, ran: frozenset[str] = frozenset()) -> Word:
    """An exact word."""
    return Word((Part(text),), ran)


def hole(source: str, ran: frozenset[str] = frozenset()) -> Word:
    """A word that may be anything at run time; `source` is how it was written."""
    return Word((Part(source, "hole"),), ran)


def join(parts: list[Part], ran: frozenset[str] = frozenset()) -> Word:
    """A word from parts, adjacent exact pieces merged so `known` and `text` stay simple."""
    merged: list[Part] = []
    for part in parts:
        if merged and part.kind == "lit" and merged[-1].kind == "lit":
            merged[-1] = Part(merged[-1].text + part.text)
        elif part.text or part.kind != "lit":
            merged.append(part)
    return Word(tuple(merged) or (Part(""),), ran)


def concat(*words: Word) -> Word:
    """Words written next to each other, as one word."""
    parts = [p for w in words for p in w.parts]
    return join(parts, frozenset().union(*(w.ran for w in words)))


def values(words: list[Word]) -> list[str]:
    """The exact text of each word, `?` standing for those only known at run time.

    For matching flags and subcommands: a word not known before running never equals a
    flag, which is the reading a person skimming the command would also have.
    """
    return [w.value if w.value is not None else "\0?" for w in words]


def tail(word: Word, start: int) -> Word:
    """The word from character `start` on (`start` within its exact prefix)."""
    parts: list[Part] = []
    skip = start
    for part in word.parts:
        if skip >= len(part.text):
            skip -= len(part.text)
            continue
        parts.append(Part(part.text[skip:], part.kind) if skip else part)
        skip = 0
    return join(parts, word.ran)


def spaced(words: list[Word]) -> Word:
    """Words joined with single spaces, as `eval` and `watch` join their arguments."""
    parts: list[Part] = []
    for i, word in enumerate(words):
        if i:
            parts.append(Part(" "))
        parts.extend(word.parts)
    return join(parts, frozenset().union(*(w.ran for w in words)))


#: Unknown values in a string handed to another shell are written into it as these
#: characters, so that they stay unknown however the inner shell quotes them.
MARK_BASE = 0xF0000


def mark(index: int) -> str:
    """The character standing for the `index`th unknown value of a shell string."""
    return chr(MARK_BASE + index)


def unmark(word: Word, marks: list[Word]) -> Word:
    """`word` with mark characters replaced by the unknown values they stand for."""
    if not marks or all(p.kind != "lit" or not _has_mark(p.text) for p in word.parts):
        return word
    parts: list[Part] = []
    ran = set(word.ran)
    for part in word.parts:
        if part.kind != "lit":
            parts.append(part)
            continue
        for ch in part.text:
            index = ord(ch) - MARK_BASE
            if 0 <= index < len(marks):
                parts.extend(marks[index].parts)
                ran.update(marks[index].ran)
            else:
                parts.append(Part(ch))
    return join(parts, frozenset(ran))


def _has_mark(text: str) -> bool:
    return any(ord(ch) >= MARK_BASE for ch in text)


def template(word: Word, marks: list[Word]) -> str:
    """The text of a shell string, each run-time part replaced by a new mark."""
    out: list[str] = []
    for part in word.parts:
        if part.kind == "lit" or part.kind == "glob":
            out.append(part.text)
            continue
        out.append(mark(len(marks)))
        marks.append(Word((part,), word.ran))
    return "".join(out)
