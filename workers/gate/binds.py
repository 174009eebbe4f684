"""Statements that bind names: assignments, declarations, `unset` and `for` loops.

They change what later words mean, so the walker hands them here to update the shell
state: `x=/srv`, `export D=~`, `declare -n r=HOME` (a nameref: `$r` is `$HOME`, and
assigning `r` assigns HOME), `unset x`, `for f in *.txt` (f is each word in turn; a glob
stands for a match in its directory). Setting BASH_ENV or ENV for a program, or
exporting them, is reported: every bash (or sh) started after runs that file first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from tree_sitter import Node

from workers.gate.state import Shell
from workers.gate.words import Word, hole, join, lit
from workers.gate.wrappers import SHELLS

if TYPE_CHECKING:
    from workers.gate.expand import Expander
    from workers.gate.parse import Walker

#: Variables naming a file a new shell runs before anything else.
STARTUP = frozenset(("BASH_ENV", "ENV"))
DECLARERS = frozenset(("declare", "typeset", "local"))


def _text(node: Node | None) -> str:
    return (node.text or b"").decode(errors="replace") if node is not None else ""


def startup(env: Mapping[str, Word], prog: str = "") -> str | None:
    """The startup file a command's environment makes new shells run (`NAME=file`)."""
    found = next((k for k, v in env.items() if _startup_file(k, v, prog)), None)
    return None if found is None else f"{found}={env[found].text}"


def _startup_file(name: str, value: Word, prog: str = "") -> bool:
    """Whether `name=value` names a file shells run first. BASH_ENV always does; ENV is
    also an application's setting (`ENV=production`), so it counts when it is a path
    or a shell is what gets it."""
    if name not in STARTUP or not value.text:
        return False
    return name == "BASH_ENV" or prog in SHELLS or "/" in value.text


def _report_startup(walker: Walker, name: str, value: Word) -> None:
    """An exported startup file reaches every shell started later on the line."""
    if _startup_file(name, value):
        walker.problem(
            f"exports {name}={value.text}: every shell started after runs that file first"
        )


def assignment(walker: Walker, node: Node, shell: Shell, export: bool = False) -> None:
    """`x=value`, `x+=more`, `arr=(...)` (an array's elements are not followed)."""
    name = node.child_by_field_name("name")
    value = node.child_by_field_name("value")
    if name is None or name.type != "variable_name":
        walker.scan(node, shell)
        return
    if value is None:
        word = lit("")
    elif value.type == "array":
        walker.scan(value, shell)
        word = hole(f"${_text(name)}")
    else:
        word = walker.expander(shell).single(value)
    if any(c.type == "+=" for c in node.children):
        word = join([*shell.lookup(_text(name)).parts, *word.parts], word.ran)
    shell.assign(_text(name), word, export)
    if export:
        _report_startup(walker, _text(name), word)


def declaration(walker: Walker, node: Node, shell: Shell) -> None:
    """`export X=1`, `local x`, `declare -x Y=2`, `readonly Z=3`, `declare -n r=HOME`."""
    command = _text(node.children[0]) if node.children else ""
    flags = "".join(_text(c)[1:] for c in node.children if _text(c).startswith("-"))
    export = command == "export" or "x" in flags
    nameref = command in DECLARERS and "n" in flags
    for child in node.named_children:
        if child.type == "variable_assignment" and nameref:
            _nameref(walker, child, shell)
        elif child.type == "variable_assignment":
            assignment(walker, child, shell, export)
        elif child.type == "variable_name" and export:
            shell.exported.add(_text(child))
            _report_startup(walker, _text(child), shell.lookup(_text(child)))
        elif child.type == "variable_name" and nameref:
            shell.refs[_text(child)] = ""


def _nameref(walker: Walker, node: Node, shell: Shell) -> None:
    """`declare -n r=NAME`: `r` now stands for NAME (unknown when NAME is not known)."""
    name = node.child_by_field_name("name")
    value = node.child_by_field_name("value")
    if name is None or name.type != "variable_name":
        walker.scan(node, shell)
        return
    target = walker.expander(shell).single(value).value if value is not None else None
    shell.refs[_text(name)] = target or ""


def unset(walker: Walker, node: Node, shell: Shell) -> None:
    """`unset x y`: they are now empty."""
    for child in node.named_children:
        if child.type == "variable_name":
            shell.unset(_text(child))


def assign_all(walker: Walker, node: Node, shell: Shell) -> None:
    """Several assignments on their own (`a=1 b=2`)."""
    for child in node.named_children:
        if child.type == "variable_assignment":
            assignment(walker, child, shell)


def prefix(node: Node, expander: Expander, env: dict[str, Word]) -> None:
    """`NAME=value cmd`: the value is in the command's environment only."""
    name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
    if name is not None:
        env[_text(name)] = expander.single(value) if value is not None else lit("")


def for_loop(walker: Walker, node: Node, shell: Shell) -> None:
    """`for x in WORDS` (and `select`): the body read once for each value of x.

    Each word is bound as it expands: an exact word as itself, a glob (`*.txt`,
    `src/*.py`) as a word standing for any match in its directory, so `"$x"` and
    `"${x%.txt}.md"` are judged in that directory.
    """
    name = node.child_by_field_name("variable")
    body = node.child_by_field_name("body")
    values = node.children_by_field_name("value")
    expander = walker.expander(shell)
    items = [w for v in values for w in expander.words(v)]
    if not values and not any(c.type == "in" for c in node.children):
        items = [hole("$@")]
    for item in items or [lit("")]:
        if name is not None:
            shell.assign(_text(name), item)
        if body is not None:
            walker.statement(body, shell)
