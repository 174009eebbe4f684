"""What `find` and `xargs` work on: the paths under find's starting points.

`find . -name '*.pyc' -delete`, `find . -exec rm {} +` and `find . | xargs rm` are the
everyday way to clean a tree, and all three only ever touch paths below the roots find
was given. Standing for "any path under ROOT" with a glob word lets the path rules
judge them like `rm ROOT/*`: fine in the workspace, risky anywhere else.
"""

from __future__ import annotations

from workers.gate.argv import parse_options
from workers.gate.command import Command
from workers.gate.paths import absolute
from workers.gate.words import Part, Word, join, lit

FIND_ACTIONS = frozenset(("-exec", "-execdir", "-ok", "-okdir"))
#: Commands that pass on a subset of their input lines, so `find | grep | xargs` is
#: still fed paths found under find's roots.
FILTERS = frozenset(("grep", "egrep", "fgrep", "sort", "uniq", "head", "tail", "tac"))


def find_roots(command: Command) -> list[Word]:
    """The starting points of a `find` (default `.`), made absolute."""
    opts = parse_options(command.args, "D", ())
    roots: list[Word] = []
    for word in opts.operands:
        text = word.value or ""
        if text.startswith(("-", "(", "!", ")")) or text == ",":
            break
        roots.append(word)
    return [_keep(absolute(r, command.cwd), r) for r in roots or [lit(".")]]


def _keep(word: Word, original: Word) -> Word:
    """`word`, remembering how `original` was written (for reasons)."""
    return Word(word.parts, word.ran, original.written or original.text)


def under_roots(command: Command) -> list[Word]:
    """A word standing for any path under each of a find's roots."""
    out = []
    for root in find_roots(command):
        sep = [] if root.text.endswith("/") else [Part("/")]
        below = join([*root.parts, *sep, Part("*", "glob")], root.ran)
        out.append(Word(below.parts, below.ran, (root.written or root.text).rstrip("/") + "/*"))
    return out


def xargs_feed(feed: tuple[Command, ...]) -> tuple[Word, ...]:
    """What stdin gives `xargs`: paths under find's roots when find feeds it, else ()."""
    for command in reversed(feed):
        if command.prog == "find":
            return tuple(under_roots(command))
        if command.prog not in FILTERS:
            break
    return ()
