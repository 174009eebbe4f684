"""What a shell knows while a command line runs: its directory, variables and links.

`x=/srv; rm -rf $x` and `cd .. && rm -rf proj` are only readable if the reader follows
the shell: assignments and `cd`/`pushd`/`popd` change what later words mean. A subshell
(`( )`, a pipeline element, `$( )`, `&`) works on a copy, so its changes do not leak, and
a new shell (`bash -c`) only inherits exported variables. Links made with `ln -s` are
the filesystem's, not the shell's: every shell of the line shares them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from workers.gate.argv import parse_options
from workers.gate.paths import Places, locate
from workers.gate.words import Part, Word, hole, join, lit

#: Variables whose value is a number or one path component: never a `/` or `..`.
NAME_LIKE = frozenset(
    (
        "RANDOM", "SRANDOM", "$", "BASHPID", "PPID", "UID", "EUID", "SECONDS", "LINENO",
        "EPOCHSECONDS", "EPOCHREALTIME", "?", "#", "!", "-", "HOSTNAME", "USER", "LOGNAME",
    )
)  # fmt: skip
#: What unquoted values split on when IFS was never set (bash ignores an inherited one).
DEFAULT_IFS = " \t\n"
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_REFS = 8  # `declare -n a=b; declare -n b=c ...`: deeper chains are unknown


@dataclass(slots=True)
class Shell:
    """The directory, variables, namerefs and links at one point of a command line."""

    places: Places
    cwd: Word
    oldpwd: Word | None = None
    stack: list[Word] = field(default_factory=list)
    vars: dict[str, Word] = field(default_factory=dict)
    exported: set[str] = field(default_factory=set)
    marks: list[Word] = field(default_factory=list)
    links: dict[str, Word] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def start(places: Places, env: Mapping[str, str]) -> Shell:
        """The shell the agent's command starts in: in the workspace, with `env`."""
        old = env.get("OLDPWD")
        skip = ("PWD", "OLDPWD", "IFS")
        names = {k: lit(v) for k, v in env.items() if k not in skip}
        return Shell(
            places,
            cwd=lit(places.workspace),
            oldpwd=lit(old) if old else None,
            vars=names,
            exported=set(env),
        )

    def fork(self) -> Shell:
        """A subshell: the same state, changes of which do not come back (but links do:
        they are on disk)."""
        return Shell(
            self.places, self.cwd, self.oldpwd, list(self.stack), dict(self.vars),
            set(self.exported), self.marks, self.links, dict(self.refs),
        )  # fmt: skip

    def child(self, env: Mapping[str, Word] | None = None) -> Shell:
        """A new shell process (`bash -c`): only exported variables, plus `env`; IFS is
        never inherited."""
        kept = {k: v for k, v in self.vars.items() if k in self.exported and k != "IFS"}
        kept.update(env or {})
        return Shell(
            self.places, self.cwd, self.oldpwd, [], kept, set(kept), self.marks, self.links
        )

    def _target(self, name: str) -> str | None:
        """The variable `name` stands for, following namerefs; None when unknown."""
        for _ in range(MAX_REFS):
            if name not in self.refs:
                return name
            name = self.refs[name]
            if not IDENTIFIER.fullmatch(name):
                return None
        return None

    def lookup(self, name: str) -> Word:
        """The value of `$name`; unknown values keep how they were written."""
        target = self._target(name)
        if target is None:
            return hole(f"${name}")
        name = target
        if name == "PWD":
            return self.cwd
        if name == "OLDPWD":
            return self.oldpwd or hole("$OLDPWD")
        if name in self.vars:
            return self.vars[name]
        if name == "IFS":
            return lit(DEFAULT_IFS)
        if name in NAME_LIKE:
            return Word((Part(f"${name}", "name"),))
        return hole(f"${name}")

    def assign(self, name: str, value: Word, export: bool = False) -> None:
        """`name=value` (and `export name=value`); through a nameref, its target's."""
        target = self._target(name)
        if target is None:
            return
        if target == "PWD":
            self.cwd = value
        else:
            self.vars[target] = value
        if export:
            self.exported.add(target)

    def unset(self, name: str) -> None:
        """`unset name`: it is now empty (an unset IFS splits as the default does)."""
        target = self._target(name) or name
        if target == "IFS":
            self.vars.pop("IFS", None)
        else:
            self.vars[target] = lit("")

    def ifs(self) -> str | None:
        """The characters unquoted values split on; None when known only at run time."""
        value = self.vars.get("IFS")
        return DEFAULT_IFS if value is None else value.value

    def cd(self, target: Word | None) -> None:
        """`cd target` (None: `cd` alone, which goes HOME); `cd -` goes back."""
        if target is None:
            target = self.lookup("HOME")
        elif target.value == "-":
            target = self.oldpwd or hole("$OLDPWD")
        self.oldpwd, self.cwd = self.cwd, self._destination(target)

    def _destination(self, target: Word) -> Word:
        """The directory `cd target` lands in, resolved, or an unknown one."""
        loc = locate(target, self.cwd, links=self.links)
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
        """Follow `cd`, `pushd` and `popd` (the directory later commands run in), and
        builtins that set variables from input (`read`, `mapfile`, `printf -v`)."""
        if name in READERS:
            for variable in READERS[name](args):
                self.assign(variable, hole(f"${variable}"))
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


def _read(args: tuple[Word, ...]) -> list[str]:
    """`read [-r] [-a ARRAY] [NAME...]`: the variables it sets (REPLY by default)."""
    opts = parse_options(args, "adinNptu")
    array = opts.get("-a")
    names = [w.value or "" for w in opts.operands] + ([array.value or ""] if array else [])
    return [n for n in names if IDENTIFIER.fullmatch(n)] or ["REPLY"]


def _mapfile(args: tuple[Word, ...]) -> list[str]:
    """`mapfile [-t] [ARRAY]`, `readarray`: the array it fills (MAPFILE by default)."""
    operands = parse_options(args, "dnOsuCc").operands
    return [operands[0].value or "MAPFILE"] if operands else ["MAPFILE"]


def _printf(args: tuple[Word, ...]) -> list[str]:
    """`printf -v NAME FORMAT...`: NAME is set to the formatted text."""
    target = parse_options(args, "v").get("-v")
    return [target.value] if target is not None and target.value else []


READERS = {"read": _read, "mapfile": _mapfile, "readarray": _mapfile, "printf": _printf}
