"""Rewriting heredocs as here-strings, for the shapes tree-sitter-bash cannot read.

The grammar mis-reads valid bash where a heredoc's line goes on after the delimiter word
(`python3 - <<'PY' 2>&1 | tail -5`, `cat > f <<EOF; echo done`, two heredocs on one
line). Agents write these all the time, and calling them unreadable would make the gate
nag. So when a parse has errors, the heredocs are found the way bash finds them (an
unquoted `<<` outside arithmetic, its delimiter word, the body on the lines after the
command line) and replaced by a here-string with the same text and the same expansions;
the rewritten command is used only if it then parses cleanly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WORD_END = frozenset(" \t\n;&|<>()")


@dataclass(slots=True)
class Heredoc:
    """One `<<DELIM` found on a command line: where it is and how its body reads."""

    start: int
    end: int
    delimiter: str
    quoted: bool
    strip_tabs: bool
    body: str = ""
    at: int = 0  # where the here-string goes: before the command's first redirection


@dataclass(slots=True)
class Lowering:
    """A scan of a command line for heredocs, and the replacements it makes."""

    text: str
    pos: int = 0
    stack: list[str] = field(default_factory=lambda: ["cmd"])
    depth: list[int] = field(default_factory=lambda: [0])
    pending: list[Heredoc] = field(default_factory=list)
    edits: list[tuple[int, int, str]] = field(default_factory=list)
    redirect: int | None = None  # where the current simple command's first redirect is

    def run(self) -> str | None:
        """The rewritten text; None when there is no heredoc or one is never closed."""
        while self.pos < len(self.text):
            if not self._step():
                return None
        if self.pending or not self.edits:
            return None
        out, cur = [], 0
        for start, end, replacement in sorted(self.edits):
            out.append(self.text[cur:start] + replacement)
            cur = end
        return "".join(out) + self.text[cur:]

    def _step(self) -> bool:
        text, i, mode = self.text, self.pos, self.stack[-1]
        ch = text[i]
        if ch == "\\":
            self.pos += 2
        elif mode == "dq":
            self._in_double(ch)
        elif ch == "'" and mode != "arith":
            self.pos = _after(text, "'", i + 1)
        elif ch == "#" and mode == "cmd" and (i == 0 or text[i - 1] in " \t\n;&|("):
            newline = text.find("\n", i)
            self.pos = len(text) if newline < 0 else newline
        elif ch == "\n" and mode == "cmd":
            self.redirect = None
            return self._bodies()
        else:
            self._code(ch)
        return True

    def _in_double(self, ch: str) -> None:
        if ch == '"':
            self._pop()
        elif self.text.startswith("$(", self.pos) and not self.text.startswith("$((", self.pos):
            self._push("cmd", 2)
            return
        self.pos += 1

    def _code(self, ch: str) -> None:
        text, i = self.text, self.pos
        if text.startswith("$((", i) or (text.startswith("((", i) and self.stack[-1] == "cmd"):
            self._push("arith", 3 if ch == "$" else 2, opened=2)
        elif text.startswith("$(", i) or ch == "(":
            self.depth[-1] += 1
            self.pos += 2 if ch == "$" else 1
        elif ch == ")":
            self.depth[-1] -= 1
            self.pos += 1
            if self.depth[-1] <= 0 and len(self.stack) > 1:
                self._pop()
        elif ch == '"':
            self._push("dq", 1)
        elif (
            text.startswith("<<", i) and not text.startswith("<<<", i) and self.stack[-1] != "arith"
        ):
            self._operator()
        else:
            self._mark(ch)
            self.pos += 1

    def _mark(self, ch: str) -> None:
        """Note where a simple command's first redirection starts (`2>`, `&>`, `<`)."""
        text, i = self.text, self.pos
        if self.stack[-1] != "cmd":
            return
        if ch in ";|\n" or (ch == "&" and not text.startswith("&>", i)):
            self.redirect = None
        elif ch in "<>" and self.redirect is None and not text.startswith(("<(", ">("), i):
            j = i
            while j > 0 and (text[j - 1].isdigit() or text[j - 1] == "&"):
                j -= 1
            self.redirect = j if j == 0 or text[j - 1] in " \t" else i

    def _push(self, mode: str, width: int, opened: int = 1) -> None:
        self.stack.append(mode)
        self.depth.append(opened if mode != "dq" else 0)
        self.pos += width

    def _pop(self) -> None:
        if len(self.stack) > 1:
            self.stack.pop()
            self.depth.pop()

    def _operator(self) -> None:
        """`<<` or `<<-`, blanks, then the delimiter word (quoted or not)."""
        start = self.pos
        i = start + 2
        strip = self.text.startswith("-", i)
        i += 1 if strip else 0
        while i < len(self.text) and self.text[i] in " \t":
            i += 1
        word, end = _word(self.text, i)
        if not word[0]:
            self.pos = end
            return
        doc = Heredoc(start, end, word[0], word[1], strip)
        doc.at = self.redirect if self.redirect is not None else start
        self.pending.append(doc)
        self.redirect = self.redirect if self.redirect is not None else start
        self.pos = end

    def _bodies(self) -> bool:
        """At the end of a command line: read the pending heredocs' bodies."""
        i = self.pos + 1
        for doc in self.pending:
            found = _body(self.text, i, doc)
            if found is None:
                return False
            doc.body, i = found
            self.edits.append((doc.at, doc.at, _here_string(doc) + " "))
            self.edits.append((doc.start, doc.end, ""))
        if self.pending:
            self.edits.append((self.pos + 1, i, ""))
        self.pending = []
        self.pos = i if i > self.pos + 1 else self.pos + 1
        return True


def _after(text: str, target: str, start: int) -> int:
    found = text.find(target, start)
    return len(text) if found < 0 else found + 1


def _word(text: str, i: int) -> tuple[tuple[str, bool], int]:
    """A delimiter word from `i`: its unquoted text, whether quoted, and its end."""
    out, quoted = [], False
    while i < len(text) and text[i] not in WORD_END:
        ch = text[i]
        if ch in "'\"":
            close = text.find(ch, i + 1)
            close = len(text) if close < 0 else close
            out.append(text[i + 1 : close])
            quoted, i = True, close + 1
        elif ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            quoted, i = True, i + 2
        else:
            out.append(ch)
            i += 1
    return ("".join(out), quoted), i


def _body(text: str, i: int, doc: Heredoc) -> tuple[str, int] | None:
    """The body from `i` up to the delimiter line, and where the next one starts."""
    lines: list[str] = []
    while i < len(text):
        end = text.find("\n", i)
        end = len(text) if end < 0 else end
        line = text[i:end]
        if (line.lstrip("\t") if doc.strip_tabs else line) == doc.delimiter:
            return "\n".join(lines), min(end + 1, len(text))
        lines.append(line.lstrip("\t") if doc.strip_tabs else line)
        i = end + 1
    return None


def _here_string(doc: Heredoc) -> str:
    """A here-string with the body's text: single-quoted if the delimiter was quoted."""
    if doc.quoted:
        return "<<< '" + doc.body.replace("'", "'\\''") + "'"
    out, i, body = [], 0, doc.body
    while i < len(body):
        ch = body[i]
        nxt = body[i + 1] if i + 1 < len(body) else ""
        if ch == "\\" and nxt == '"':
            out.append('\\\\\\"')
            i += 2
            continue
        out.append('\\"' if ch == '"' else ch + (nxt if ch == "\\" and nxt else ""))
        i += 2 if ch == "\\" and nxt else 1
    return '<<< "' + "".join(out) + '"'


def lower(text: str) -> str | None:
    """`text` with its heredocs written as here-strings, or None when that is not possible."""
    if "<<" not in text:
        return None
    return Lowering(text).run()
