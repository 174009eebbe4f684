"""The bash grammar, and rewrites for valid bash that tree-sitter-bash misreads.

An unreadable command asks a human, so every shape of valid bash the grammar trips on
is a nag on ordinary work. The known ones are rewritten into equivalent text the grammar
reads: heredocs whose line goes on after the delimiter (see `heredoc`), a lone `~` word
(`[[ -d ~ ]]`, `[ -d ~ ]`, `[[ $d == ~ ]]`), which is the same as `"$HOME"`, and a case
item ended by `;&` or `;;&` right before `esac`, the same as `;;` there. A rewrite is
used only when the original has errors and the rewrite has none.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

from workers.gate.heredoc import lower

#: A lone tilde word and what it expands to (tilde expansion never splits or globs).
TILDE = re.compile(r"~([+-]?)(?=[\s;&|)\]]|$)")
TILDE_VALUES = {"": '"$HOME"', "+": '"$PWD"', "-": '"$OLDPWD"'}
CASE_END = re.compile(r";;?&(\s*esac\b)")
WORD_START = frozenset(" \t\n;&|(")


@functools.cache
def parser() -> Parser:
    """The bash parser, built once: loading the grammar costs more than a parse."""
    return Parser(Language(tree_sitter_bash.language()))


def tree(text: str) -> Node:
    """The syntax tree of `text`: its own if it parses, else that of the first rewrite
    that parses cleanly, else its own (with errors)."""
    root = parser().parse(text.encode()).root_node
    if not root.has_error:
        return root
    for candidate in _rewrites(text):
        alternative = parser().parse(candidate.encode()).root_node
        if not alternative.has_error:
            return alternative
    return root


def _rewrites(text: str) -> Iterator[str]:
    """The rewrites to try, cheapest first: heredocs, lone tildes and case ends, both
    (a line may have a heredoc and a `[[ -d ~ ]]`)."""
    lowered = lower(text)
    if lowered is not None:
        yield lowered
    relexed = relex(text)
    if relexed is not None:
        yield relexed
        both = lower(relexed)
        if both is not None:
            yield both
    if lowered is not None:
        again = relex(lowered)
        if again is not None:
            yield again


def relex(text: str) -> str | None:
    """`text` with lone `~` words and `;&`/`;;&` before `esac` rewritten outside quotes;
    None when there is nothing to rewrite."""
    out: list[str] = []
    i, changed = 0, False
    while i < len(text):
        end = _quoted_end(text, i)
        if end > i:
            out.append(text[i:end])
            i = end
            continue
        replaced = _replacement(text, i)
        if replaced is None:
            out.append(text[i])
            i += 1
            continue
        out.append(replaced[0])
        i, changed = replaced[1], True
    return "".join(out) if changed else None


def _replacement(text: str, i: int) -> tuple[str, int] | None:
    """The rewrite starting at `i` (text, end), if one does."""
    ch = text[i]
    if ch == "~" and (i == 0 or text[i - 1] in WORD_START):
        tilde = TILDE.match(text, i)
        if tilde is not None:
            return TILDE_VALUES[tilde.group(1)], tilde.end()
    if ch == ";":
        end = CASE_END.match(text, i)
        if end is not None:
            return ";;" + end.group(1), end.end()
    return None


def _quoted_end(text: str, i: int) -> int:
    """Where a quoted string, an escape or a comment starting at `i` ends (`i` if none)."""
    ch = text[i]
    if ch == "\\":
        return min(i + 2, len(text))
    if ch == "'" or (ch == "$" and text.startswith("$'", i)):
        start = i + (2 if ch == "$" else 1)
        return _closing(text, start, "'", escapes=ch == "$")
    if ch == '"':
        return _closing(text, i + 1, '"', escapes=True)
    if ch == "#" and (i == 0 or text[i - 1] in " \t\n;&|("):
        newline = text.find("\n", i)
        return len(text) if newline < 0 else newline
    return i


def _closing(text: str, start: int, quote: str, escapes: bool) -> int:
    """The index after the quote closing a string that starts at `start`."""
    j = start
    while j < len(text):
        if escapes and text[j] == "\\":
            j += 2
            continue
        if text[j] == quote:
            return j + 1
        j += 1
    return len(text)
