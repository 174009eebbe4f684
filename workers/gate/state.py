"""What a shell knows while a command line runs: its directory and its variables.

`x=/srv; rm -rf $x` and `cd .. && rm -rf proj` are only readable if the reader follows
the shell: assignments and `cd`/`pushd`/`popd` change what later words mean. A subshell
(`( )`, a pipeline element, `$( )`, `&`) works on a copy, so its changes do not leak, and
a new shell (`bash -c`) only inherits exported variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from workers.gate.argv import parse_options
from workers.gate.paths import Places, locate
from workers.gate.words import Part, Word, hole, join, lit

#: Variables whose value is a number or one path component: never a `/` or `..`.
NAME_LIKE = frozenset(
    (
        "RANDOM",
        "SRANDOM",
        "$",
        "BASHPID",
        "PPID",
        "UID",
        "EUID",
        "SECONDS",
        "LINENO",
        "EPOCHSECONDS",
        "EPOCHREALTIME",
        "?",
        "#",
        "!",
        "-",
        "HOSTNAME",
        "USER",
        "LOGNAME",
    )
)


@dataclass(slots=True)
class Shell:
    """The directory and variables at one point of a command line."""

    places: Places
    cwd: Word
    oldpwd: Word | None = None
    stack: list[Word] = field(default_factory=list)
    vars: dict[str, Word] = field(default_factory=dict)
    exported: set[str] = field(default_factory=set)
    marks: list[Word] = field(default_factory=list)

    @staticmethod
    def start(places: Places, env: Mapping[str, str]) -> Shell:
        """The shell the agent's command starts in: in the workspace, with `env`."""
        old = env.get("OLDPWD")
        names = {k: lit(v) for k, v in env.items() if k not in ("PWD", "OLDPWD")}
        return Shell(
            places,
            cwd=lit(places.workspace),
            oldpwd=lit(old) if old else None,
            vars=names,
            exported=set(env),
        )

    def fork(self) -> Shell:
        """A subshell: the same state, changes of which do not come back."""
        return Shell(
            self.places,
            self.cwd,
            self.oldpwd,
            list(self.stack),
            dict(self.vars),
            set(self.exported),
            self.marks,
        )

    def child(self, env: Mapping[str, Word] | None = None) -> Shell:
        """A new shell process (`bash -c`): only exported variables, plus `env`."""
        kept = {k: v for k, v in self.vars.items() if k in self.exported}
        kept.update(env or {})
        return Shell(self.places, self.cwd, self.oldpwd, [], kept, set(kept), self.marks)

    def lookup(self, name: str) -> Word:
        """The value of `$name`; unknown values keep how they were written."""
        if name == "PWD":
            return self.cwd
        if name == "OLDPWD":
            return self.oldpwd or hole("$OLDPWD")
        if name in self.vars:
            return self.vars[name]
        if name in NAME_LIKE:
            return Word((Part(f"${name}", "name"),))
        return hole(f"${name}")

    def assign(self, name: str, value: Word, export: bool = False) -> None:
        """`name=value` (and `export name=value`)."""
        if name == "PWD":
            self.cwd = value
        else:
            self.vars[name] = value
        if export:
            self.exported.add(name)

    def unset(self, name: str) -> None:
        """`unset name`: it is now empty."""
        self.vars[name] = lit("")

    def cd(self, target: Word | None) -> None:
        """`cd target` (None: `cd` alone, which goes HOME); `cd -` goes back."""
        if target is None:
            target = self.lookup("HOME")
        elif target.value == "-":
            target = self.oldpwd or hole("$OLDPWD")
        self.oldpwd, self.cwd = self.cwd, self._destination(target)

    def _destination(self, target: Word) -> Word:
        """The directory `cd target` lands in, resolved, or an unknown one."""
        loc = locate(target, self.cwd)
        if loc.path is None:
            return hole(loc.unknown or target.text)
        if not loc.pattern:
            return lit(loc.path)
        return join([Part(loc.path.rstrip("/") + "/"), Part(loc.pattern, "glob")])

    def landing(self, target: Word) -> Word:
        """Where `cd target` would land, without going there (`env -C`, `sudo -D`)."""
        probe = self.fork()
        probe.cd(target)
        return probe.cwd

    def builtin(self, name: str, args: tuple[Word, ...]) -> None:
        """Follow `cd`, `pushd` and `popd`: the directory later commands run in."""
        if name not in ("cd", "pushd", "popd"):
            return
        operands = parse_options(args).operands
        target = operands[0] if operands else None
        if name == "cd":
            self.cd(target)
        elif target is not None and (target.value or "?")[:1] in "+-?":
            self.cwd = hole(f"{name} {target.text}")
        elif name == "pushd":
            self.pushd(target)
        else:
            self.popd()

    def pushd(self, target: Word | None) -> None:
        """`pushd dir` remembers the current directory; `pushd` alone swaps."""
        if target is None:
            if self.stack:
                top = self.stack.pop()
                self.stack.append(self.cwd)
                self.oldpwd, self.cwd = self.cwd, top
            return
        self.stack.append(self.cwd)
        self.cd(target)

    def popd(self) -> None:
        """`popd` returns to the directory `pushd` remembered (nothing when there is none)."""
        if self.stack:
            self.oldpwd, self.cwd = self.cwd, self.stack.pop()
