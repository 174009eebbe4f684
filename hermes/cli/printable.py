"""Text from the board made safe to put on a terminal.

Titles, bodies, results, questions and errors come from users, agents and commands; a
stray escape sequence in any of them could clear the screen, retitle the window or hide
text when a person runs `board list`. Control characters are shown as `\\xNN` instead.
"""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, and C1 controls (0x9b is a CSI on some terminals).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidirectional overrides and isolates: they make a terminal show text in another order
# than it is written ("Trojan Source"), so they are spelled out as well.
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
# What ends a line on screen, and tabs (which would break a table's columns): spelled out
# where one line is expected (table cells, titles, errors).
_BREAKS = re.compile(r"[\t\n\u2028\u2029]")
_SPELLED = {"\t": "\\t", "\n": "\\n"}


def printable(text: str) -> str:
    """`text` with every control character but tab and newline written as `\\xNN`."""
    if text.isprintable():  # the common case, and 100 times faster than the regexes
        return text
    text = _CONTROL.sub(lambda match: f"\\x{ord(match[0]):02x}", text)
    return _BIDI.sub(_spell_unicode, text)


def one_line(text: str) -> str:
    """`printable(text)` with tabs and line breaks spelled out too (`\\t`, `\\n`): for
    titles, table cells and errors, which must stay on one line."""
    if text.isprintable():
        return text
    return _BREAKS.sub(_spell_break, printable(text))


def _spell_break(match: re.Match[str]) -> str:
    return _SPELLED.get(match[0]) or _spell_unicode(match)


def _spell_unicode(match: re.Match[str]) -> str:
    return f"\\u{ord(match[0]):04x}"
