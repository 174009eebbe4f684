"""Rules for commands that delete, move, overwrite or re-permission files.

Each rule finds the paths its program touches (the way that program reads its own
options: `rm dir -rf`, `cp -t DIR`, `sed -i.bak`, `dd of=`) and hands them to `judge`,
which decides by where they resolve. Redirections (`>`, `>>`) are judged for every
command, whatever the program.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import replace

from workers.gate import judge
from workers.gate.argv import parse_options
from workers.gate.command import Command
from workers.gate.finds import find_roots
from workers.gate.paths import Places, is_dir, shared_root, where
from workers.gate.verdict import Level, Risk
from workers.gate.words import Part, Word, join, lit, tail, values

Found = Iterator[Risk | None]
CHMOD_MODE = re.compile(r"[ugoa]*[-+=][rwxXstugo]*(,[ugoa]*[-+=][rwxXstugo]*)*|[0-7]{1,4}")
SED_FLAGS = frozenset("nrEsuz")
PERL_FLAGS = frozenset("pnlawsTtUuWX0123456789")
DISK_LISTING = frozenset(("-l", "--list", "-p", "--print", "-d", "--dump"))
NAME_TESTS = frozenset(
    ("-name", "-iname", "-path", "-ipath", "-wholename", "-iwholename", "-regex", "-iregex")
)
WIDENING = frozenset(("-o", "-or", ",", "!", "-not"))


def redirections(cmd: Command, places: Places) -> Found:
    """`> file` overwrites, `>> file` edits; both judged where they resolve."""
    for redirect in cmd.redirects:
        if redirect.writes:
            loc = cmd.locate(redirect.target)
            verb = f"{cmd.prog or 'redirect'} {redirect.op}".strip()
            yield judge.write(loc, places, verb, overwrite=not redirect.appends)


def rm(cmd: Command, places: Places) -> Found:
    """`rm [-r] PATH...` (options anywhere, as GNU rm reads them)."""
    opts = parse_options(cmd.args, interleaved=True)
    recursive = opts.has("-r", "-R", "--recursive")
    verb = "rm -r" if recursive else "rm"
    for word in opts.operands:
        yield judge.delete(cmd.locate(word, follow_last=False), places, verb, recursive)


def unlink(cmd: Command, places: Places) -> Found:
    """`unlink FILE`, `rmdir DIR`: one file or one empty directory."""
    for word in parse_options(cmd.args, interleaved=True).operands:
        yield judge.delete(cmd.locate(word, follow_last=False), places, cmd.prog, False)


def shred(cmd: Command, places: Places) -> Found:
    """`shred FILE`, `truncate -s N FILE`: the content is destroyed."""
    opts = parse_options(cmd.args, "snr", ("size", "iterations", "reference", "random-source"))
    for word in opts.operands:
        yield judge.write(cmd.locate(word), places, cmd.prog, overwrite=True)


def move(cmd: Command, places: Places) -> Found:
    """`mv SRC... DEST`: each source is deleted from where it was, DEST overwritten."""
    sources, dests = _copy_targets(cmd)
    for source in sources:
        loc = cmd.locate(source, follow_last=False)
        emptied = shared_root(loc, places) is not None
        if emptied or where(loc, places) not in ("temp", "disposable"):
            yield judge.delete(loc, places, "mv", recursive=emptied or is_dir(loc))
    for dest in dests:
        yield judge.write(cmd.locate(dest), places, "mv", overwrite=True)


def copy(cmd: Command, places: Places) -> Found:
    """`cp`, `install`, `ln -f`: the destinations are written."""
    opts = parse_options(cmd.args, "mogtS", interleaved=True)
    force = cmd.prog != "ln" or opts.has("-f", "--force")
    verb = "ln -f" if cmd.prog == "ln" and force else cmd.prog
    if cmd.prog == "install" and opts.has("-d", "--directory"):
        for word in opts.operands:
            yield judge.write(cmd.locate(word), places, "install -d", overwrite=False)
        return
    for dest in _copy_targets(cmd)[1]:
        yield judge.write(cmd.locate(dest), places, verb, overwrite=force)


def _copy_targets(cmd: Command) -> tuple[list[Word], list[Word]]:
    """Sources and the paths written: DEST, or DEST/name when DEST is a directory."""
    short = "mogtS" if cmd.prog == "install" else "tS"
    opts = parse_options(cmd.args, short, ("target-directory", "suffix"), interleaved=True)
    directory = opts.get("-t", "--target-directory")
    operands = list(opts.operands)
    if directory is None and cmd.prog == "ln" and len(operands) == 1:
        directory = lit(".")
    if directory is None:
        if len(operands) < 2:
            return operands, []
        directory = operands.pop()
        into = len(operands) > 1 or directory.text.endswith("/")
        if not into and not is_dir(cmd.locate(directory)):
            return operands, [directory]
    return operands, [_inside(directory, source) for source in operands]


def _inside(directory: Word, source: Word) -> Word:
    """DIR/basename(SOURCE), keeping an unknown name unknown."""
    name = os.path.basename(source.text.rstrip("/"))
    part = Part(name) if source.exact else Part(name, "name")
    sep = [] if directory.text.endswith("/") else [Part("/")]
    return join([*directory.parts, *sep, part])


def tee(cmd: Command, places: Places) -> Found:
    """`tee [-a] FILE...`."""
    opts = parse_options(cmd.args, "", ("output-error",), interleaved=True)
    append = opts.has("-a", "--append")
    for word in opts.operands:
        verb = "tee -a" if append else "tee"
        yield judge.write(cmd.locate(word), places, verb, overwrite=not append)


def in_place(cmd: Command, places: Places) -> Found:
    """`sed -i`, `perl -pi -e`: the files named after the script are edited."""
    flags = SED_FLAGS if cmd.prog == "sed" else PERL_FLAGS
    inplace, rest = _strip_inplace(list(cmd.args), flags)
    if not inplace:
        return
    short = "efl" if cmd.prog == "sed" else "eEIMmCdDx"
    opts = parse_options(rest, short, ("expression", "file", "line-length"), interleaved=True)
    scripted = opts.has("-e", "--expression", "-f", "--file", "-E")
    for word in opts.operands if scripted else opts.operands[1:]:
        yield judge.write(cmd.locate(word), places, f"{cmd.prog} -i", overwrite=False)


def _strip_inplace(args: list[Word], flags: frozenset[str]) -> tuple[bool, list[Word]]:
    """Whether `-i` (alone, with a suffix, or in a cluster like `-pi`) is given."""
    inplace, rest = False, []
    for word in args:
        text = word.value or ""
        if text.startswith("--in-place"):
            inplace = True
            continue
        if text.startswith("-") and not text.startswith("--") and "i" in text:
            head = text[1 : text.index("i")]
            if set(head) <= flags:
                inplace = True
                if head:
                    rest.append(lit("-" + head))
                continue
        rest.append(word)
    return inplace, rest


def dd(cmd: Command, places: Places) -> Found:
    """`dd of=PATH`: PATH (a disk, often) is overwritten."""
    for word in cmd.args:
        if word.known.startswith("of="):
            target = tail(word, 3)
            yield judge.write(cmd.locate(target), places, "dd of=", overwrite=True)


def permissions(cmd: Command, places: Places) -> Found:
    """`chmod`, `chown`, `chgrp`: recursive outside is high, a single path medium."""
    opts = parse_options(cmd.args, "", ("reference", "from"), interleaved=True)
    recursive = opts.has("-R", "--recursive")
    operands = list(opts.operands)
    if not opts.has("--reference") and operands:
        first = operands[0].value or ""
        if cmd.prog != "chmod" or CHMOD_MODE.fullmatch(first):
            operands = operands[1:]
    verb = f"{cmd.prog} -R" if recursive else cmd.prog
    for word in operands:
        yield judge.change(cmd.locate(word), places, verb, recursive)


def find(cmd: Command, places: Places) -> Found:
    """`find ROOTS... -delete`: everything matched under the roots is deleted."""
    if not any(w.value == "-delete" for w in cmd.args):
        return
    whole = not _by_name(cmd)
    for root in find_roots(cmd):
        sep = [] if root.text.endswith("/") else [Part("/")]
        below = join([*root.parts, *sep, Part("*", "glob")])
        loc = replace(cmd.locate(below), shown=root.written or root.text)
        yield judge.delete(loc, places, "find -delete", recursive=True, whole=whole)


def _by_name(cmd: Command) -> bool:
    """Whether find only matches some names (`-name '*.pyc'`), with no `-o` or `!` that
    could widen it again: then it does not empty a temp or log root."""
    words = values(list(cmd.args))
    if WIDENING & set(words):
        return False
    return any(w in NAME_TESTS and nxt not in ("*", "") for w, nxt in itertools.pairwise(words))


def rsync(cmd: Command, places: Places) -> Found:
    """`rsync --delete SRC DEST` deletes in DEST; `--remove-source-files` in SRC."""
    opts = parse_options(cmd.args, "efBTM", RSYNC_VALUES, interleaved=True)
    if len(opts.operands) < 2:
        return
    *sources, dest = opts.operands
    deletes = any(n.startswith("--del") for n in opts.seen)
    if opts.has("--remove-source-files", "--remove-sent-files"):
        for source in sources:
            yield _transfer(source, cmd, places, "rsync --remove-source-files", delete=True)
    yield _transfer(dest, cmd, places, "rsync --delete" if deletes else cmd.prog, deletes)


def scp(cmd: Command, places: Places) -> Found:
    """`scp SRC... DEST`: DEST is written (here, or on another machine)."""
    opts = parse_options(cmd.args, "cFiJloPS", (), interleaved=True)
    if len(opts.operands) >= 2:
        yield _transfer(opts.operands[-1], cmd, places, "scp", delete=False)


def _transfer(word: Word, cmd: Command, places: Places, verb: str, delete: bool) -> Risk | None:
    text = word.text
    if re.match(r"^(?:rsync://|[\w.@-]+::?)", text) and not text.startswith("/"):
        level: Level = "high" if delete else "medium"
        return Risk(level, f"{verb} to another machine ({text})")
    loc = cmd.locate(word)
    if delete:
        return judge.delete(loc, places, verb, recursive=True)
    return judge.write(loc, places, verb, overwrite=True)


def download(cmd: Command, places: Places) -> Found:
    """`curl -o FILE`, `wget -O FILE`: the file is overwritten."""
    if cmd.prog == "curl":
        opts = parse_options(cmd.args, "oHdXuAeEFrTwKxyzYmbc", ("output", "header"), True)
        target = opts.get("-o", "--output")
    else:
        opts = parse_options(cmd.args, "OPaoTtUeBi", ("output-document",), interleaved=True)
        target = opts.get("-O", "--output-document")
    if target is not None and target.value != "-":
        yield judge.write(cmd.locate(target), places, f"{cmd.prog} -o", overwrite=True)


def extract(cmd: Command, places: Places) -> Found:
    """`tar -x -C DIR`, `unzip -d DIR`: files land in DIR, over what is there."""
    words = list(cmd.args)
    texts = [w.value or "" for w in words]
    target = None
    for i, text in enumerate(texts):
        if text in ("-C", "--directory", "-d" if cmd.prog == "unzip" else "-C") and i + 1 < len(
            words
        ):
            target = words[i + 1]
        elif text.startswith("--directory="):
            target = tail(words[i], len("--directory="))
    extracting = cmd.prog == "unzip" or any(
        t in ("--extract", "--get") or (not t.startswith("--") and "x" in t and i < 2)
        for i, t in enumerate(texts)
    )
    if extracting and target is not None:
        yield judge.write(cmd.locate(target), places, f"{cmd.prog} -x", overwrite=True)


def disks(cmd: Command, places: Places) -> Found:
    """Formatting or repartitioning a disk; listing partitions is fine."""
    if cmd.prog in ("fdisk", "sfdisk", "parted", "sgdisk", "wipefs") and any(
        w.value in DISK_LISTING for w in cmd.args
    ):
        return
    if cmd.prog == "wipefs" and not any(w.value in ("-a", "--all", "-o") for w in cmd.args):
        return
    targets = " ".join(w.text for w in cmd.args if not w.text.startswith("-"))
    yield Risk("high", f"{cmd.prog} formats or repartitions a disk ({targets or 'no target'})")


RSYNC_VALUES = (
    "rsh", "filter", "exclude", "include", "exclude-from", "include-from", "files-from",
    "rsync-path", "temp-dir", "compare-dest", "copy-dest", "link-dest", "partial-dir",
    "backup-dir", "suffix", "chmod", "chown", "log-file", "password-file", "port",
    "timeout", "contimeout", "max-size", "min-size", "bwlimit", "out-format", "usermap",
    "groupmap", "info", "debug", "iconv", "max-delete", "modify-window", "block-size",
)  # fmt: skip
