"""Expanding a word node the way bash does, as far as it can be done before running.

Bash turns `"$x"/a{b,c}*` into arguments in a fixed order: brace expansion, tilde,
parameter and command substitution, word splitting, globbing. The same order is followed
here, with one difference: what only exists at run time (an unset variable, a command's
output) becomes a `hole` part instead of a guess, and glob characters become `glob` parts
to be judged by their directory rather than matched.
"""

from __future__ import annotations

import codecs
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from tree_sitter import Node

from workers.gate.state import Shell
from workers.gate.words import Part, Word, hole, join, lit, unmark

#: Runs a `$(...)`, backtick or `<(...)` node; returns its value when it can be known.
SubRunner = Callable[[Node, Shell], Word]

MAX_BRACE = 256  # words one brace expression may become; past it, the rest is unknown
PRIVATE = 0xE000  # characters standing for opaque pieces while braces are expanded
PRIVATE_END = 0xF900
DQ_ESCAPES = re.compile(r"\\([$`\"\\\n])")
HEREDOC_ESCAPES = re.compile(r"\\([$`\\\n])")
DEFAULTS = (":-", "-", ":=", "=")
ALTERNATES = (":+", "+")


@dataclass(slots=True)
class Piece:
    """Raw unquoted source text, or an already expanded word and whether it was quoted."""

    raw: str | None = None
    word: Word | None = None
    quoted: bool = True


@dataclass(slots=True)
class Expander:
    """Expands word nodes in one shell state; substitutions run through `run_sub`."""

    shell: Shell
    run_sub: SubRunner
    ran: set[str] = field(default_factory=set)

    def words(self, node: Node) -> list[Word]:
        """A command argument: may become several words (braces, splitting) or none."""
        text, table = _encode(self._pieces(node, quoted=False))
        out: list[Word] = []
        variants = _braces(text, 0)
        for variant in variants[:MAX_BRACE]:
            out.extend(self._fields(variant, table))
        if len(variants) > MAX_BRACE:
            out.append(hole(f"the rest of {_short(node)}"))
        written = _text(node) if len(out) == 1 else ""
        return [_written(unmark(w, self.shell.marks), written) for w in out]

    def single(self, node: Node) -> Word:
        """An assignment value or redirect target: one word, tilde expanded, no splitting."""
        pieces = self._pieces(node, quoted=False)
        text, table = _encode(pieces)
        parts: list[Part] = []
        for ch in self._tilde(text, table, parts):
            parts.extend(_part_of(ch, table, glob=False))
        return _written(unmark(join(parts, frozenset(self.ran)), self.shell.marks), _text(node))

    def heredoc(self, body: Node, literal: bool) -> Word:
        """A heredoc body: literal for a quoted delimiter, else expanded like a string."""
        text = _text(body)
        if literal or not body.named_children:
            return unmark(lit(text), self.shell.marks)
        pieces = self._gaps(body, body.start_byte, body.end_byte, HEREDOC_ESCAPES)
        parts = [p for piece in pieces for p in _word_of(piece).parts]
        return unmark(join(parts, frozenset(self.ran)), self.shell.marks)

    # -- gathering pieces from the tree ---------------------------------------------------

    def _pieces(self, node: Node, quoted: bool) -> list[Piece]:
        kind = node.type
        if kind in ("concatenation", "command_name"):
            return [p for child in node.children for p in self._pieces(child, quoted)]
        if kind in ("string", "translated_string"):
            start = node.start_byte + (2 if kind == "translated_string" else 1)
            return self._gaps(node, start, node.end_byte - 1, DQ_ESCAPES)
        if kind == "raw_string":
            return [Piece(word=lit(_text(node)[1:-1]))]
        if kind == "ansi_c_string":
            return [Piece(word=lit(_ansi_c(_text(node)[2:-1])))]
        expanded = self._expansion(node)
        if expanded is not None:
            return [Piece(word=expanded, quoted=quoted)]
        if quoted:
            return [Piece(word=lit(_text(node)))]
        return [Piece(raw=_text(node))]

    def _gaps(self, node: Node, start: int, end: int, escapes: re.Pattern[str]) -> list[Piece]:
        """Quoted text between the expansions of a string or heredoc body."""
        source = node.text or b""
        base = node.start_byte
        out: list[Piece] = []
        cur = start
        for child in node.named_children:
            if child.type in ("string_content", "heredoc_content"):
                continue
            gap = source[cur - base : child.start_byte - base].decode(errors="replace")
            out.append(Piece(word=lit(_unescape(escapes, gap))))
            out.extend(self._pieces(child, quoted=True))
            cur = child.end_byte
        gap = source[cur - base : end - base].decode(errors="replace")
        out.append(Piece(word=lit(_unescape(escapes, gap))))
        return out

    def _expansion(self, node: Node) -> Word | None:
        """The value of `$x`, `${x...}`, `$(...)`, `<(...)`, `$((...))`; None otherwise."""
        kind = node.type
        if kind == "simple_expansion":
            name = node.named_children[0] if node.named_children else None
            return self.shell.lookup(_text(name)) if name is not None else lit("$")
        if kind == "expansion":
            return self._braced(node)
        if kind in ("command_substitution", "process_substitution"):
            value = self.run_sub(node, self.shell)
            self.ran.update(value.ran)
            return value
        if kind == "arithmetic_expansion":
            self._scan(node)
            return Word((Part(_text(node), "name"),))
        return None

    def _braced(self, node: Node) -> Word:
        """`${name}`, `${name:-default}`, `${name:+alt}`; anything else is unknown."""
        children = [c for c in node.children if c.type not in ("${", "}")]
        if not children or children[0].type not in ("variable_name", "special_variable_name"):
            self._scan(node)
            return hole(_short(node))
        value = self.shell.lookup(_text(children[0]))
        if len(children) == 1:
            return value
        op, rest = _text(children[1]), children[2:]
        if op in DEFAULTS + ALTERNATES and value.exact:
            chosen = (value.text == "") == (op in DEFAULTS)
            return self._join_nodes(rest) if chosen else (value if op in DEFAULTS else lit(""))
        self._scan(node)
        return hole(_short(node))

    def _join_nodes(self, nodes: list[Node]) -> Word:
        parts = [p for n in nodes for piece in self._pieces(n, True) for p in _word_of(piece).parts]
        return join(parts)

    def _scan(self, node: Node) -> None:
        """Run the substitutions inside a node whose value is not used (they still run)."""
        for child in node.named_children:
            if child.type in ("command_substitution", "process_substitution"):
                self.ran.update(self.run_sub(child, self.shell).ran)
            else:
                self._scan(child)

    # -- from pieces to words -------------------------------------------------------------

    def _fields(self, text: str, table: list[Piece]) -> list[Word]:
        """Split one brace variant into words (unquoted values split on whitespace)."""
        done: list[list[Part]] = []
        cur: list[Part] = []
        touched = False
        for ch in self._tilde(text, table, cur):
            piece = table[ord(ch) - PRIVATE] if _opaque(ch) else None
            if piece is None or piece.quoted or piece.word is None:
                cur.extend(_part_of(ch, table, glob=True))
                touched = touched or piece is not None
                continue
            for i, chunk in enumerate(_split(piece.word)):
                if i and (cur or touched):
                    done.append(cur)
                    cur, touched = [], False
                cur.extend(chunk)
        if cur or touched:
            done.append(cur)
        return [join(parts, frozenset(self.ran)) for parts in done]

    def _tilde(self, text: str, table: list[Piece], out: list[Part]) -> str:
        """Expand a leading `~`, `~+`, `~-` into `out`; returns the rest of the text."""
        if not text.startswith("~"):
            return text
        end = len(text)
        for i, ch in enumerate(text):
            if ch == "/" or _opaque(ch):
                end = i
                break
        name = text[1:end]
        where = {"": "HOME", "+": "PWD", "-": "OLDPWD"}.get(name)
        out.extend((self.shell.lookup(where) if where else hole(f"~{name}")).parts)
        return text[end:]


def _written(word: Word, source: str) -> Word:
    """`word`, remembering its source text when that reads differently from its value."""
    if not source or source == word.text:
        return word
    return Word(word.parts, word.ran, source)


def _text(node: Node | None) -> str:
    return (node.text or b"").decode(errors="replace") if node is not None else ""


def _unescape(escapes: re.Pattern[str], text: str) -> str:
    """Backslash escapes inside double quotes or a heredoc; `\\newline` joins lines."""
    return escapes.sub(lambda m: "" if m.group(1) == "\n" else m.group(1), text)


def _short(node: Node) -> str:
    text = _text(node)
    if len(text) <= 40:
        return text
    return "$(...)" if text.startswith("$(") or text.startswith("`") else text[:37] + "..."


def _ansi_c(body: str) -> str:
    try:
        return codecs.decode(body.encode("latin-1", "backslashreplace"), "unicode_escape")
    except (UnicodeDecodeError, ValueError):
        return body


def _word_of(piece: Piece) -> Word:
    return piece.word if piece.word is not None else lit(piece.raw or "")


def _encode(pieces: list[Piece]) -> tuple[str, list[Piece]]:
    """Raw text kept for brace expansion; everything else (and `\\x`) made opaque."""
    table: list[Piece] = []
    out: list[str] = []

    def opaque(piece: Piece) -> None:
        """Stand `piece` in for one private-use character."""
        out.append(chr(PRIVATE + len(table)))
        table.append(piece)

    for piece in pieces:
        if piece.raw is None:
            opaque(piece)
            continue
        chars = iter(piece.raw)
        for ch in chars:
            if _opaque(ch):
                opaque(Piece(word=lit(ch)))
            elif ch != "\\":
                out.append(ch)
            else:
                escaped = next(chars, "")
                if escaped and escaped != "\n":
                    opaque(Piece(word=lit(escaped)))
    return "".join(out), table


def _opaque(ch: str) -> bool:
    """Whether an encoded character stands for an opaque piece."""
    return PRIVATE <= ord(ch) < PRIVATE_END


def _part_of(ch: str, table: list[Piece], glob: bool) -> list[Part]:
    """The parts one encoded character stands for."""
    if _opaque(ch):
        return list(_word_of(table[ord(ch) - PRIVATE]).parts)
    if glob and ch in "*?[":
        return [Part(ch, "glob")]
    return [Part(ch)]


def _split(word: Word) -> list[list[Part]]:
    """An unquoted value split on whitespace; glob characters in it become globs."""
    chunks: list[list[Part]] = [[]]
    for part in word.parts:
        if part.kind != "lit":
            chunks[-1].append(part)
            continue
        for i, field_text in enumerate(re.split(r"[ \t\n]+", part.text)):
            if i:
                chunks.append([])
            for ch in field_text:
                chunks[-1].append(Part(ch, "glob") if ch in "*?[" else Part(ch))
    return chunks


def _braces(text: str, depth: int) -> list[str]:
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
            out.extend(_braces(text[:start] + alt + text[end + 1 :], depth + 1))
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
