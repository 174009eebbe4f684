"""From a command line to the flat list of simple commands bash would run.

The tree-sitter bash grammar gives the syntax tree; this module walks it as bash would
execute it: lists and pipelines in order, subshells on a copy of the state, `cd`,
assignments and links changing what later words mean, `$(...)`, `<(...)` and heredoc
substitutions running too, and strings handed to another shell (`bash -c`, `eval`,
`su -c`, `watch`, `trap`) parsed in turn, up to a depth limit. What the grammar cannot
read is reported, not guessed at.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tree_sitter import Node

from workers.gate import binds, links
from workers.gate.calls import ShellString, substitute
from workers.gate.command import Command, Redirect
from workers.gate.expand import Expander
from workers.gate.finds import FIND_ACTIONS, under_roots, xargs_feed
from workers.gate.outputs import known_output
from workers.gate.paths import Places
from workers.gate.state import Shell
from workers.gate.syntax import tree
from workers.gate.verdict import Risk
from workers.gate.words import Part, Word, hole, template
from workers.gate.wrappers import SHELLS, Call, piped_script, reads_stdin, unwrap

MAX_DEPTH = 4  # bash -c inside bash -c inside ...: deeper than this is not read
MAX_COMMANDS = 2000  # loops over long lists: past this the line is "too long to read"
FD_DUPS = frozenset((">&", "<&", ">&-", "<&-"))


@dataclass(slots=True)
class Script:
    """What a command line runs, and what about it could not be read."""

    commands: list[Command] = field(default_factory=list)
    problems: list[Risk] = field(default_factory=list)
    truncated: bool = False


def read(text: str, places: Places, env: Mapping[str, str]) -> Script:
    """The simple commands `text` runs when started in the workspace with `env`."""
    script = Script()
    Walker(script).source(text, Shell.start(places, env), None)
    return script


def _text(node: Node | None) -> str:
    return (node.text or b"").decode(errors="replace") if node is not None else ""


@dataclass(slots=True)
class Walker:
    """Walks one shell's syntax tree, adding the commands it runs to `script`."""

    script: Script
    depth: int = 0
    feed: tuple[Command, ...] = ()

    def source(self, text: str, shell: Shell, how: str | None) -> None:
        """Parse and walk `text`; a tree with errors is reported as unreadable."""
        root = tree(text)
        if root.has_error:
            where = f" ({how} string)" if how else ""
            self.problem(f"cannot be read as a shell command{where}; a human should look")
        self.statement(root, shell)

    def problem(self, reason: str) -> None:
        """Something a human should look at (unreadable, too deep, unknown program)."""
        self.script.problems.append(Risk("medium", reason))

    def statement(self, node: Node, shell: Shell) -> None:
        """Walk one statement node; other nodes only have their substitutions run."""
        if len(self.script.commands) > MAX_COMMANDS:
            if not self.script.truncated:
                self.script.truncated = True
                self.problem("runs too many commands to read them all; a human should look")
            return
        handler = STATEMENTS.get(node.type)
        if handler is not None:
            handler(self, node, shell)
        elif node.type != "comment":
            self.scan(node, shell)

    def _sequence(self, node: Node, shell: Shell) -> None:
        """Children in order, in the same shell; one followed by `&` runs in a copy."""
        children = node.children
        for i, child in enumerate(children):
            if not child.is_named:
                continue
            background = i + 1 < len(children) and children[i + 1].type == "&"
            self.statement(child, shell.fork() if background else shell)

    def _subshell(self, node: Node, shell: Shell) -> None:
        self._sequence(node, shell.fork())

    def _function(self, node: Node, shell: Shell) -> None:
        """A function body is read where it is defined (it may run later, or never)."""
        body = node.child_by_field_name("body")
        name = _text(node.child_by_field_name("name"))
        start = len(self.script.commands)
        if body is not None:
            self.statement(body, shell.fork())
        if any(c.prog == name for c in self.script.commands[start:]):
            self.problem(f"defines a function that calls itself ({name}): a fork bomb?")

    def _pipeline(self, node: Node, shell: Shell, feed: tuple[Command, ...] = ()) -> None:
        """Each element runs in a subshell, fed by the commands before it (nearest last)."""
        saved = self.feed
        for child in node.named_children:
            start = len(self.script.commands)
            self.feed = feed
            self.statement(child, shell.fork())
            feed = feed + tuple(self.script.commands[start:])
        self.feed = saved

    def scan(self, node: Node, shell: Shell) -> None:
        """Run the substitutions inside a node that is not itself a statement."""
        for child in node.named_children:
            if child.type in ("command_substitution", "process_substitution"):
                self.substitution(child, shell)
            elif child.type in STATEMENTS:
                self.statement(child, shell)
            else:
                self.scan(child, shell)

    def substitution(self, node: Node, shell: Shell) -> Word:
        """Run `$(...)`, a backtick or `<(...)` in a subshell; its value if known."""
        saved, self.feed = self.feed, ()
        start = len(self.script.commands)
        inner = shell.fork()
        self._sequence(node, inner)
        self.feed = saved
        ran_commands = self.script.commands[start:]
        ran = frozenset(n for c in ran_commands for n in (c.prog, *c.wrappers) if n)
        if node.type == "process_substitution":
            return Word((Part("/dev/fd/63"),), ran)
        text = _text(node)
        shown = text if len(text) <= 40 else "$(...)"
        value = known_output(ran_commands, inner, shown)
        if value is None:
            return hole(shown, ran)
        return Word(value.parts, value.ran | ran)

    def expander(self, shell: Shell) -> Expander:
        """An expander for words in `shell`, running substitutions through this walker."""
        return Expander(shell, self.substitution)

    # -- simple commands ------------------------------------------------------------------

    def _redirected(self, node: Node, shell: Shell) -> None:
        """A statement with redirections (and, for heredocs, what follows them)."""
        body = node.child_by_field_name("body")
        redirects: list[Redirect] = []
        stdin: list[Word] = []
        after: list[Node] = []
        for child in node.children_by_field_name("redirect"):
            self._redirect(child, shell, redirects, stdin, after)
        start = len(self.script.commands)
        if body is not None and body.type == "command":
            self._command(body, shell, redirects, stdin)
        elif body is not None and body.type == "list":
            # the grammar hangs `a && b > f` on the list; bash on `b`, after `a` ran
            self.statement(body, shell)
            self.emit([], shell, redirects, stdin)
        else:
            self.emit([], shell, redirects, stdin)
            if body is not None:
                self.statement(body, shell)
        fed = tuple(self.script.commands[start:])
        for rest in after:
            if rest.type == "pipeline":
                self._pipeline(rest, shell, fed)
            else:
                self.statement(rest, shell)

    def _redirect(
        self,
        node: Node,
        shell: Shell,
        redirects: list[Redirect],
        stdin: list[Word],
        after: list[Node],
    ) -> None:
        """One redirection; a heredoc's body goes to `stdin`, statements after it to `after`."""
        expander = self.expander(shell)
        if node.type == "herestring_redirect":
            stdin.extend(expander.single(c) for c in node.named_children[-1:])
        elif node.type == "file_redirect":
            op = next((c.type for c in node.children if not c.is_named), "")
            target = node.child_by_field_name("destination")
            if target is not None and not (op in FD_DUPS and _is_fd(_text(target))):
                redirects.append(Redirect(op, expander.single(target)))
        elif node.type == "heredoc_redirect":
            literal = any(q in _text(_start(node)) for q in "'\"\\")
            for child in node.named_children:
                if child.type == "heredoc_body":
                    stdin.append(expander.heredoc(child, literal))
                elif child.type.endswith("_redirect"):
                    self._redirect(child, shell, redirects, stdin, after)
                elif child.type not in ("heredoc_start", "heredoc_end"):
                    after.append(child)

    def _command(
        self,
        node: Node,
        shell: Shell,
        redirects: list[Redirect] | None = None,
        stdin: list[Word] | None = None,
    ) -> None:
        """A simple command: prefix assignments, words, and its own redirections."""
        redirects, stdin = list(redirects or []), list(stdin or [])
        expander = self.expander(shell)
        env: dict[str, Word] = {}
        words: list[Word] = []
        after: list[Node] = []
        named = node.child_by_field_name("name") is not None
        for child in node.named_children:
            if child.type == "variable_assignment":
                if named:
                    binds.prefix(child, expander, env)
                else:  # `x=1` alone: the shell's own variable
                    binds.assignment(self, child, shell)
            elif child.type.endswith("_redirect"):
                self._redirect(child, shell, redirects, stdin, after)
            else:
                words.extend(expander.words(child))
        self.emit(words, shell, redirects, stdin, env)
        for rest in after:
            self.statement(rest, shell)

    def emit(
        self,
        words: list[Word],
        shell: Shell,
        redirects: list[Redirect],
        stdin: list[Word],
        env: Mapping[str, Word] | None = None,
    ) -> None:
        """Record one simple command, then what it changes or runs in turn."""
        if not words and not redirects:
            return
        call = unwrap(words, xargs_feed(self.feed))
        cwd = shell.cwd if call.cwd is None else shell.landing(call.cwd)
        command = Command(
            tuple(call.argv), cwd, tuple(call.wrappers), call.user, call.remote,
            tuple(redirects), tuple(stdin), self.feed, self.depth, tuple(shell.links.items()),
        )  # fmt: skip
        self.script.commands.append(command)
        if call.argv and not call.argv[0].known and call.argv[0].unknown is not None:
            self.problem(f"runs a command whose name depends on {call.argv[0].unknown}")
        self._effects(command, call, shell, {**(env or {}), **call.env})

    def _effects(self, command: Command, call: Call, shell: Shell, env: dict[str, Word]) -> None:
        """What a command changes (directory, links) and what it makes run in turn."""
        if not call.wrappers or set(call.wrappers) <= {"command", "builtin"}:
            shell.builtin(command.prog, command.args)
        links.record(command, shell)
        started = binds.startup(env, command.prog)
        if started is not None:
            self.problem(f"runs with {started}: a shell it starts runs that file first")
        if call.script is None and command.prog in SHELLS and reads_stdin(call.argv):
            piped = piped_script(command.stdin, self.feed)
            if piped is not None:
                call.script = ShellString(piped, f"{command.prog} reading stdin")
        if call.script is not None:
            self._nested(call.script, shell, env)
        if command.prog == "find":
            self._find_actions(command, shell)

    def _nested(self, script: ShellString, shell: Shell, env: Mapping[str, Word]) -> None:
        """A string another shell parses: read it too, one level deeper."""
        if self.depth >= MAX_DEPTH:
            self.problem(f"nests shell strings too deep to read ({script.how})")
            return
        if script.scope == "same":
            inner = shell
        else:
            inner = shell.fork() if script.scope == "copy" else shell.child(env)
        text = template(script.text, inner.marks)
        for i, arg in enumerate(script.args):
            inner.vars[str(i)] = arg
        Walker(self.script, self.depth + 1, self.feed).source(text, inner, script.how)

    def _find_actions(self, command: Command, shell: Shell) -> None:
        """`find ROOTS ... -exec CMD {} ;`: CMD runs on paths under the roots."""
        args = list(command.args)
        found = under_roots(command)
        for i, word in enumerate(args):
            if word.value not in FIND_ACTIONS:
                continue
            end = next(
                (j for j in range(i + 1, len(args)) if args[j].value in (";", "+")), len(args)
            )
            for each in found:
                inner = [substitute(w, "{}", each) for w in args[i + 1 : end]]
                self.emit(inner, shell.fork(), [], [])


def _is_fd(target: str) -> bool:
    """`>&2`, `2>&1`, `>&-`: a descriptor, not a file."""
    return target.isdigit() or target in ("-", "")


def _start(node: Node) -> Node:
    return next((c for c in node.children if c.type == "heredoc_start"), node)


STATEMENTS: dict[str, Callable[[Walker, Node, Shell], None]] = {
    **dict.fromkeys(
        (
            "program", "list", "compound_statement", "do_group", "if_statement",
            "elif_clause", "else_clause", "while_statement", "case_statement", "case_item",
            "negated_command", "c_style_for_statement", "ERROR", "test_command",
        ),
        Walker._sequence,
    ),
    "subshell": Walker._subshell,
    "pipeline": Walker._pipeline,
    "redirected_statement": Walker._redirected,
    "command": Walker._command,
    "variable_assignment": binds.assignment,
    "variable_assignments": binds.assign_all,
    "declaration_command": binds.declaration,
    "unset_command": binds.unset,
    "function_definition": Walker._function,
    "for_statement": binds.for_loop,
}  # fmt: skip
