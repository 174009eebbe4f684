"""Bash's parameter operators on values known before running: `${f%.txt}`, `${f##*/}`...

`for f in *.txt; do mv "$f" "${f%.txt}.md"; done` renames files in the workspace, and
calling `${f%.txt}` unknown would make the gate ask about everyday work. An exact value
is operated on exactly, with bash's pattern rules. A value that is one unknown name in a
known directory (a glob match, `$(date +%s)`) stays one name in that same directory when
the operator provably touches only that last component: a suffix removed by a pattern
without `/` that cannot reach back into the directory, plain text substituted where the
directory's path does not contain it. Anything else stays unknown.
"""

from __future__ import annotations

import fnmatch
import re

from workers.gate.words import Part, Word, join, lit, tail

Arg = tuple[str, bool]  # an operator's argument: its text, and whether it was quoted
PREFIX_TRIMS = ("#", "##")
SUFFIX_TRIMS = ("%", "%%")
REPLACES = ("/", "//", "/#", "/%")
MAX_TEXT = 512  # longer values are not pattern-matched (the matching is quadratic)
GLOB_CHARS = frozenset("*?[")


def operate(value: Word, op: str, args: list[Arg], source: str) -> Word | None:
    """`${name OP args}` applied to `value` (`source` is how it was written, for an
    unknown name); None when the result cannot be known."""
    if value.exact:
        text = _exact(value.text, op, args)
        return None if text is None else lit(text, value.ran)
    directory = _directory(value)
    if directory is None or len(args) not in (1, 2):
        return None
    if op in PREFIX_TRIMS and len(args) == 1:
        return _trim_prefix(value, directory, op, args[0], source)
    if op in SUFFIX_TRIMS and len(args) == 1:
        return _trim_suffix(value, directory, op, args[0], source)
    if op in REPLACES:
        return _replace(value, directory, op, args, source)
    return None


def _exact(text: str, op: str, args: list[Arg]) -> str | None:
    """The operator applied to an exact value, as bash would."""
    if len(text) > MAX_TEXT:
        return None
    if op in PREFIX_TRIMS + SUFFIX_TRIMS and len(args) == 1:
        return trim(text, op, _regex(args[0]))
    if op in REPLACES and len(args) in (1, 2):
        replacement = args[1] if len(args) == 2 else ("", True)
        if "&" in replacement[0] and not replacement[1]:
            return None  # bash 5.2: an unquoted & stands for the matched text
        return substitute(text, op, _regex(args[0]), replacement[0])
    if op in ("^^", ",,", "^", ",") and not args:
        changed = text.upper() if op.startswith("^") else text.lower()
        return changed if len(op) == 2 else changed[:1] + text[1:]
    if op == ":" and args:
        return _substring(text, args)
    return None


def _regex(arg: Arg) -> re.Pattern[str]:
    """A bash pattern (`*`, `?`, `[...]`), or quoted literal text, as a regex."""
    text, quoted = arg
    if quoted:
        return re.compile(re.escape(text), re.DOTALL)
    return re.compile(fnmatch.translate(text.replace("[^", "[!")))


def trim(text: str, op: str, rx: re.Pattern[str]) -> str:
    """`#`/`##` remove the shortest/longest matching prefix, `%`/`%%` the suffix."""
    n = len(text)
    if op in PREFIX_TRIMS:
        for i in range(n + 1) if op == "#" else range(n, -1, -1):
            if rx.fullmatch(text[:i]):
                return text[i:]
        return text
    for i in range(n, -1, -1) if op == "%" else range(n + 1):
        if rx.fullmatch(text[i:]):
            return text[:i]
    return text


def substitute(text: str, op: str, rx: re.Pattern[str], replacement: str) -> str:
    """`/` the first longest match, `//` every one, `/#` at the start, `/%` at the end."""
    n = len(text)
    if op == "/#":
        end = next((i for i in range(n, -1, -1) if rx.fullmatch(text[:i])), None)
        return text if end is None else replacement + text[end:]
    if op == "/%":
        start = next((i for i in range(n + 1) if rx.fullmatch(text[i:])), None)
        return text if start is None else text[:start] + replacement
    out: list[str] = []
    i = 0
    while i < n:
        end = next((e for e in range(n, i, -1) if rx.fullmatch(text[i:e])), None)
        if end is None:
            out.append(text[i])
            i += 1
            continue
        out.append(replacement)
        i = end
        if op == "/":
            break
    return "".join(out) + text[i:]


def _substring(text: str, args: list[Arg]) -> str | None:
    """`${x:OFFSET}` and `${x:OFFSET:LENGTH}` (negative ones count from the end)."""
    try:
        numbers = [int(a[0]) for a in args]
    except ValueError:
        return None
    n = len(text)
    start = numbers[0] if numbers[0] >= 0 else n + numbers[0]
    if start < 0 or start > n:
        return ""
    if len(numbers) == 1:
        return text[start:]
    end = start + numbers[1] if numbers[1] >= 0 else n + numbers[1]
    return text[start:end] if end >= start else None


def _directory(value: Word) -> str | None:
    """The known directory of a value that is one unknown name in it (`src/` for a
    match of `src/*.py`, `` for `*.txt` or `*/`), or None when it is more than that."""
    if value.unknown is not None:
        return None
    known = value.known
    directory = known[: known.rfind("/") + 1]
    rest = value.text[len(directory) :]
    return None if "/" in rest.rstrip("/") or not rest else directory


def _named(directory: str, source: str, value: Word) -> Word:
    """One unknown name (written `source`) in `directory`."""
    return join([Part(directory), Part(source, "name")], value.ran)


def _trim_prefix(value: Word, directory: str, op: str, arg: Arg, source: str) -> Word | None:
    """`${f#./}`, `${f##*/}`: exact when the match lies in the known text; else a
    fragment of the last name, which is only placeable when there is no directory."""
    known, (text, quoted) = value.known, arg
    rx = _regex(arg)
    bounded = op == "#" or quoted or not GLOB_CHARS & set(text) or text.endswith("/")
    order = range(len(known) + 1) if op == "#" else range(len(known), -1, -1)
    found = next((i for i in order if rx.fullmatch(known[:i])), None)
    if found is not None and bounded:
        return tail(value, found)
    if value.text.endswith("/"):
        return None  # `*/`: a match may end at the unknown name's own slash
    if found is None and text.endswith("/") and not quoted:
        return value  # a match must end at a `/`: all of them are in the known text
    if op == "##" and text == "*/":
        return Word((Part(source, "name"),), value.ran)
    return None if directory else _named("", source, value)


def _trim_suffix(value: Word, directory: str, op: str, arg: Arg, source: str) -> Word | None:
    """`${f%.txt}`, `${f%.*}`: a name in the same directory when every match starts in
    the last name; `${f%/*}` (the directory) exactly."""
    text, quoted = arg
    if text == "/*" and not quoted and op == "%" and not value.text.endswith("/"):
        return lit(directory[:-1], value.ran) if directory else value
    if text == "/" and value.text.endswith("/"):
        return _named(directory, source, value)  # `${d%/}` of a `*/` match: the directory
    if "/" in text or value.text.endswith("/"):
        return None
    literal = quoted or not GLOB_CHARS & set(text)
    if literal or (text[:1] and text[0] not in GLOB_CHARS and text[0] not in directory):
        return _named(directory, source, value)
    return None


def _replace(value: Word, directory: str, op: str, args: list[Arg], source: str) -> Word | None:
    """`${f/.txt/.md}`: plain text (no `/`) replaced; the directory part exactly."""
    (pattern, quoted), replacement = args[0], args[1][0] if len(args) == 2 else ""
    literal = quoted or not GLOB_CHARS & set(pattern)
    if not literal or not pattern or "/" in pattern + replacement:
        return None
    if replacement and not replacement.strip("."):
        return None  # a name made `.` or `..` would leave the directory
    known = value.known
    if op == "/#":
        if known.startswith(pattern):
            return join([Part(replacement), *tail(value, len(pattern)).parts], value.ran)
        if len(known) >= len(pattern) or not pattern.startswith(known):
            return value  # it cannot match at the start
        return None if directory else _named("", source, value)
    if op == "/%":
        return _named(directory, source, value)
    if op == "/" and pattern in directory:
        moved = directory.replace(pattern, replacement, 1)
        return join([Part(moved), *tail(value, len(directory)).parts], value.ran)
    return _named(directory.replace(pattern, replacement), source, value)
