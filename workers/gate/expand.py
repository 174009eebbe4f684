"""Expanding a word node the way bash does, as far as it can be done before running.

Bash turns `"$x"/a{b,c}*` into arguments in a fixed order: brace expansion, tilde,
parameter and command substitution, word splitting, globbing. The same order is followed
here, with one difference: what only exists at run time (an unset variable, a command's
output) becomes a `hole` part instead of a guess, and glob characters become `glob` parts
to be judged by their directory rather than matched.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from tree_sitter import Node

from workers.gate.braces import MAX_BRACE, braces
from workers.gate.params import Arg, operate
from workers.gate.state import DEFAULT_IFS, Shell
from workers.gate.words import Part, Word, hole, join, lit, unmark

#: Runs a `$(...)`, backtick or `<(...)` node; returns its value when it can be known.
SubRunner = Callable[[Node, Shell], Word]

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
    source: str = ""  # how an expansion was written (`$x`), for when its split is unknown


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
        variants = braces(text, 0)
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
            return [Piece(word=expanded, quoted=quoted, source=_short(node))]
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
        """`${name}`, `${name:-default}`, `${name:+alt}`, `${#name}` (a number) and the
        operators of `params` (`${f%.txt}`); anything else is unknown."""
        children = [c for c in node.children if c.type not in ("${", "}")]
        if len(children) == 2 and children[0].type == "#":
            return Word((Part(_short(node), "name"),))
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
        args = [_arg(n) for n in rest if n.is_named]
        if op not in DEFAULTS + ALTERNATES and None not in args:
            result = operate(value, op, [a for a in args if a is not None], _short(node))
            if result is not None:
                return result
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
        """Split one brace variant into words (unquoted values split on IFS)."""
        done: list[list[Part]] = []
        cur: list[Part] = []
        touched = False
        for ch in self._tilde(text, table, cur):
            piece = table[ord(ch) - PRIVATE] if _opaque(ch) else None
            if piece is None or piece.quoted or piece.word is None:
                cur.extend(_part_of(ch, table, glob=True))
                touched = touched or piece is not None
                continue
            chunks = _split(piece.word, self.shell.ifs())
            for i, chunk in enumerate(chunks or [[Part(piece.source or "$?", "hole")]]):
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


def _split(word: Word, ifs: str | None) -> list[list[Part]] | None:
    """An unquoted value split on IFS; glob characters in it become globs.

    None when the split cannot be known: IFS set to a value only known at run time, or
    to characters other than the default that the value contains (`IFS=,; x=rm,-rf,~;
    $x`). Bash's rules for non-blank IFS characters are not redone here: the fields are
    called unknown instead, which a command name or a path must never be mistaken for.
    """
    if ifs != DEFAULT_IFS:
        text = "".join(p.text for p in word.parts if p.kind == "lit")
        if (ifs is None and word.text) or (ifs and set(ifs) & set(text)):
            return None
        return [[q for p in word.parts for q in _globbed(p)]]
    chunks: list[list[Part]] = [[]]
    for part in word.parts:
        if part.kind != "lit":
            chunks[-1].append(part)
            continue
        for i, field_text in enumerate(re.split(r"[ \t\n]+", part.text)):
            if i:
                chunks.append([])
            chunks[-1].extend(_globbed(Part(field_text)))
    return chunks


def _globbed(part: Part) -> list[Part]:
    """An unquoted value's exact text, its glob characters made globs."""
    if part.kind != "lit":
        return [part]
    return [Part(ch, "glob") if ch in "*?[" else Part(ch) for ch in part.text]


def _arg(node: Node) -> Arg | None:
    """A parameter operator's pattern or text (`%.txt`, `/'a'/b`), and whether it was
    quoted; None when it holds an expansion or escape this reader does not follow."""
    text = _text(node)
    if node.type == "raw_string":
        return text[1:-1], True
    if set(text) & set("$`\\{"):
        return None
    if node.type == "string" and all(c.type == "string_content" for c in node.named_children):
        return text[1:-1], True
    if node.type in ("regex", "word", "number") and not set(text) & set("'\""):
        return text, False
    return None
