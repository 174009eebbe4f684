"""One simple command as it will run: the flat unit every rule judges.

A command line is a tree (pipelines, lists, loops, substitutions, nested `bash -c`), but
risk is a property of the simple commands inside it and of where they run. Reading the
tree once into this flat form lets each rule look at one program and its arguments,
without knowing shell syntax.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from workers.gate.paths import Loc, locate
from workers.gate.words import Word

#: Directories of installed programs: `/usr/bin/rm` and `.venv/bin/twine` are those
#: programs, while `./rm` or `scripts/deploy.sh` are the project's own scripts.
BIN_DIRS = frozenset(("bin", "sbin", ".bin"))


@dataclass(frozen=True, slots=True)
class Redirect:
    """A redirection that opens a file: `>`, `>>`, `&>`, `>|`, `<>` or `<`."""

    op: str
    target: Word

    @property
    def writes(self) -> bool:
        """Whether the file is opened for writing."""
        return self.op != "<"

    @property
    def appends(self) -> bool:
        """Whether it appends (an edit) rather than truncates (an overwrite)."""
        return self.op in (">>", "&>>")


@dataclass(frozen=True, slots=True)
class Command:
    """A program with its arguments, where it runs and what feeds it.

    `argv` is the effective program (wrappers such as `sudo`, `env`, `nice`, `xargs`
    removed; their names are in `wrappers`). `user` is set when it runs as another user,
    `remote` when it runs somewhere else (a container, another machine), so filesystem
    rules do not judge its paths against this machine. `stdin` holds heredoc and
    here-string texts; `upstream` the commands piping into it. `links` are the links
    made earlier on the line (path, target), which its paths may go through.
    """

    argv: tuple[Word, ...]
    cwd: Word
    wrappers: tuple[str, ...] = ()
    user: str | None = None
    remote: str | None = None
    redirects: tuple[Redirect, ...] = ()
    stdin: tuple[Word, ...] = ()
    upstream: tuple[Command, ...] = ()
    depth: int = 0
    links: tuple[tuple[str, Word], ...] = ()

    def locate(self, word: Word, follow_last: bool = True) -> Loc:
        """Where `word` lands when this command uses it as a path (see `paths.locate`)."""
        return locate(word, self.cwd, follow_last, dict(self.links))

    @property
    def prog(self) -> str:
        """The program's name (see `program`); empty when there is none."""
        return program(self.argv[0]) if self.argv else ""

    @property
    def args(self) -> tuple[Word, ...]:
        """The arguments after the program."""
        return self.argv[1:]

    @property
    def line(self) -> str:
        """The command as a person would read it, for reasons (cut when long)."""
        text = " ".join(w.text for w in self.argv)
        return text if len(text) <= 80 else text[:77] + "..."


def program(word: Word) -> str:
    """The program a command word runs, as rules know it.

    A bare name is itself; a path in a `bin`/`sbin`/`.bin` directory (`/usr/bin/git`,
    `.venv/bin/twine`, `node_modules/.bin/vercel`) is the installed program of that name;
    any other path (`./rm`, `scripts/deploy.sh`) is a project script, kept as written so
    no rule mistakes it for the system tool. A name only known at run time is empty.
    """
    text = word.value
    if text is None:
        return ""
    if "/" not in text:
        return text
    head, name = os.path.split(text.rstrip("/"))
    return name if os.path.basename(head) in BIN_DIRS else text
