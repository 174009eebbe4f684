"""What a few command substitutions print, when that can be known before running.

Most `$(...)` output is unknowable, and an unknown path is judged risky. A handful of
idioms are common and harmless to read: `$(pwd)` is the directory, `$(mktemp -d)` a new
temp dir, `$(realpath ..)` a resolved path, and `$(date +%s)` or `$(whoami)` a single
name that cannot climb out of a directory. Reading them keeps the gate from nagging
about `rm -rf "$(mktemp -d)"` or `cp x "backup-$(date +%F)"`.
"""

from __future__ import annotations

from workers.gate.argv import parse_options
from workers.gate.command import Command
from workers.gate.state import Shell
from workers.gate.words import Part, Word, join, lit, values

#: Programs whose output is one path component (no `/`, no `..`).
NAME_OUTPUT = frozenset(("whoami", "id", "hostname", "uname", "nproc", "basename", "seq"))
GIT_NAMES = (("rev-parse", "HEAD"), ("rev-parse", "--short"), ("branch", "--show-current"))


def known_output(commands: list[Command], shell: Shell, source: str) -> Word | None:
    """The value of a substitution that ran `commands` (ending in `shell`), if known."""
    if len(commands) != 1 or commands[0].redirects:
        return None
    command = commands[0]
    name = command.prog
    if name == "pwd":
        return shell.cwd
    if name == "mktemp":
        return _mktemp(command, shell)
    if name in ("realpath", "readlink"):
        return _realpath(command)
    if _is_name(command, name):
        return Word((Part(source, "name"),))
    return None


def _is_name(command: Command, name: str) -> bool:
    args = values(list(command.args))
    if name in NAME_OUTPUT:
        return True
    if name == "date":
        return not any("/" in a or "\0" in a for a in args)
    if name == "git" and len(args) >= 2:
        return any(tuple(args[:2]) == pair or tuple(args[-2:]) == pair for pair in GIT_NAMES)
    return False


def _mktemp(command: Command, shell: Shell) -> Word:
    """`mktemp [-d] [-p DIR] [TEMPLATE]`: a new name in the temp dir (or DIR)."""
    opts = parse_options(command.args, "p", ("tmpdir", "suffix"), interleaved=True)
    template = opts.operands[0] if opts.operands else None
    name = Part(template.text.rsplit("/", 1)[-1] if template else "tmp.XXXXXXXXXX", "name")
    if template is not None and "/" in template.known and not opts.has("-t"):
        head = template.known.rsplit("/", 1)[0] or "/"
        return join([Part(head), Part("/"), name])
    directory = opts.get("-p", "--tmpdir")
    if directory is None or directory.value == "":
        directory = shell.vars.get("TMPDIR") or lit("/tmp")
    return join([*directory.parts, Part("/"), name])


def _realpath(command: Command) -> Word | None:
    """`realpath X`, `readlink -f X`: X resolved, when X is exact."""
    opts = parse_options(command.args, interleaved=True)
    if command.prog == "readlink" and not opts.has("-f", "-e", "-m", "--canonicalize"):
        return None
    if len(opts.operands) != 1:
        return None
    loc = command.locate(opts.operands[0])
    return lit(loc.path) if loc.path is not None and not loc.pattern else None
