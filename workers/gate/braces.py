"""Brace expansion (`a{b,c}`, `{1..3}`, `{a..e..2}`), the first of bash's expansions.

It works on the raw text of a word before anything else is expanded; the caller makes
quoted and expanded pieces opaque (private-use characters) so braces inside them stay
inert, as they do in bash. The count is bounded: `{1..100000000}` must not hang the gate.
"""

from __future__ import annotations

import itertools
import re

MAX_BRACE = 256  # words one brace expression may become; past it, the rest is unknown


def braces(text: str, depth: int) -> list[str]:
    """Brace expansion of raw text: `a{b,c}` and `{1..3}`; opaque characters inert.

    At most `MAX_BRACE + 1` results: one more than used tells the caller some were cut.
    """
    if depth > 8 or "{" not in text:
        return [text]
    for start, ch in enumerate(text):
        if ch != "{":
            continue
        found = _brace_at(text, start)
        if found is None:
            continue
        end, alternatives = found
        out: list[str] = []
        for alt in alternatives:
            out.extend(braces(text[:start] + alt + text[end + 1 :], depth + 1))
            if len(out) > MAX_BRACE:
                return out[: MAX_BRACE + 1]
        return out
    return [text]


def _brace_at(text: str, start: int) -> tuple[int, list[str]] | None:
    """The closing brace and alternatives of a brace expression at `start`, if valid."""
    level, commas = 0, [start]
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "{":
            level += 1
        elif ch == "}":
            level -= 1
            if level == 0:
                inner = text[start + 1 : i]
                if len(commas) > 1:
                    bounds = [*commas, i]
                    return i, [text[a + 1 : b] for a, b in itertools.pairwise(bounds)]
                sequence = _sequence(inner)
                return (i, sequence) if sequence else None
        elif ch == "," and level == 1:
            commas.append(i)
    return None


def _sequence(inner: str) -> list[str] | None:
    """`1..5`, `01..10..2`, `a..e` as a brace sequence."""
    match = re.fullmatch(r"(-?\d+|[A-Za-z])\.\.(-?\d+|[A-Za-z])(?:\.\.(-?\d+))?", inner)
    if match is None:
        return None
    first, last, step_text = match.groups()
    step = abs(int(step_text or "1")) or 1
    if first.lstrip("-").isdigit() and last.lstrip("-").isdigit():
        a, b = int(first), int(last)
        width = len(first) if first.startswith("0") and len(first) > 1 else 0
        numbers = range(a, b + 1, step) if a <= b else range(a, b - 1, -step)
        return [str(n).zfill(width) for n in itertools.islice(numbers, MAX_BRACE + 1)]
    if first.isalpha() and last.isalpha():
        a, b = ord(first), ord(last)
        return [chr(c) for c in (range(a, b + 1, step) if a <= b else range(a, b - 1, -step))]
    return None
