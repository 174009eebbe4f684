"""Text from the board made safe to put on a terminal.

Titles, bodies, results, questions and errors come from users, agents and commands; a
stray escape sequence in any of them could clear the screen, retitle the window or hide
text when a person runs `board list`. Control characters are shown as `\\xNN` instead.
"""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, and C1 controls (0x9b is a CSI on some terminals).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# What `str.splitlines` breaks on besides the controls above: line and paragraph separators.
_BREAKS = re.compile(r"[\n\u2028\u2029]")


def printable(text: str) -> str:
    """`text` with every control character but tab and newline written as `\\xNN`."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match[0]):02x}", text)


def one_line(text: str) -> str:
    """`printable(text)` with line breaks spelled out too (`\\n`): an error is one line."""
    return _BREAKS.sub(_spell_break, printable(text))


def _spell_break(match: re.Match[str]) -> str:
    return "\\n" if match[0] == "\n" else f"\\u{ord(match[0]):04x}"
