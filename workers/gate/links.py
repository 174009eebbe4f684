"""Links a command line makes (`ln -s`, `ln`, `cp -s`), so later paths through them resolve.

`ln -s ~ l; rm -rf l/*` deletes HOME's files, but when the gate reads the line `l` is
not on disk yet, so resolving `l/*` with realpath finds a harmless path in the
workspace. So each link the line makes is remembered in the shell state (the path of
the link, and where it points, resolved as it will be when it is used) and
`paths.locate` follows it like the disk's own. A target only known at run time makes
every path through the link unknown. Hard links are remembered the same way: writing
through one writes the file it shares (removing it, like removing a symlink, does not).
"""

from __future__ import annotations

import os

from workers.gate.argv import Options, parse_options
from workers.gate.command import Command
from workers.gate.paths import is_dir, locate
from workers.gate.state import Shell
from workers.gate.words import Part, Word, hole, join, lit


def record(command: Command, shell: Shell) -> None:
    """Remember the links `command` makes (none for other programs, or elsewhere)."""
    if command.remote is not None or command.prog not in ("ln", "cp"):
        return
    opts = parse_options(command.args, "tS", ("target-directory", "suffix"), interleaved=True)
    symbolic = opts.has("-s", "--symbolic", "--symbolic-link")
    if command.prog == "cp" and not symbolic:
        return
    from_cwd = not symbolic or (command.prog == "ln" and opts.has("-r", "--relative"))
    for target, name in _pairs(command, opts, shell):
        link = locate(name, command.cwd, follow_last=False, links=shell.links)
        if link.path is None or link.pattern:
            continue
        base = command.cwd if from_cwd else lit(os.path.dirname(link.path) or "/")
        shell.links[link.path] = _target(target, base, shell)


def _target(target: Word, base: Word, shell: Shell) -> Word:
    """Where a link to `target` (relative to `base`) points: exact, or unknown."""
    loc = locate(target, base, links=shell.links)
    if loc.path is None or loc.pattern:
        return hole(loc.unknown or target.text)
    return lit(loc.path)


def _pairs(command: Command, opts: Options, shell: Shell) -> list[tuple[Word, Word]]:
    """(target, link name) for each link: `ln T NAME`, `ln T... DIR`, `ln -t DIR T...`,
    `ln T` (a link named like T in the current directory)."""
    operands = list(opts.operands)
    directory = opts.get("-t", "--target-directory")
    if directory is None and len(operands) == 1:
        directory = lit(".")
    if directory is None:
        if len(operands) < 2:
            return []
        last = operands.pop()
        plain = opts.has("-n", "--no-dereference", "-T", "--no-target-directory")
        into = len(operands) > 1 or last.text.endswith("/")
        if not into and (plain or not is_dir(locate(last, command.cwd, links=shell.links))):
            return [(operands[0], last)]
        directory = last
    out = []
    for target in operands:
        name = os.path.basename(target.text.rstrip("/"))
        if target.exact and name:
            sep = [] if directory.text.endswith("/") else [Part("/")]
            out.append((target, join([*directory.parts, *sep, Part(name)])))
    return out
