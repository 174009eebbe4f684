"""Programs that run a command inside something: a tracer, a sandbox, a namespace,
another root, a batch runner.

`strace -f rm -rf /srv` deletes /srv as surely as `rm -rf /srv`, `parallel rm -rf :::
/srv/a /srv/b` runs rm twice, and `gdb -ex 'shell rm -rf ~'` hands a shell a string.
Each handler knows its program's options and returns the command it runs (or the shell
string it runs), so the rules see the real program. Those that change the root
(`chroot`, `nsenter`, `proot -r`, `unshare --root`) say so in `remote`: paths there
are not this machine's, and the rules judge them as unknown.
"""

from __future__ import annotations

import re
import shlex

from workers.gate.argv import assignment, parse_options
from workers.gate.calls import Call, Handler, ShellString
from workers.gate.words import Part, Word, hole, join, lit, spaced, tail

PARALLEL_SEPARATORS = frozenset((":::", "::::", ":::+", "::::+"))
PARALLEL_SHORT = "aCdEIjPLnNSs"
PARALLEL_LONG = (
    "arg-file", "colsep", "delimiter", "eof", "replace", "jobs", "max-procs", "max-lines",
    "max-args", "max-replace-args", "sshlogin", "sshloginfile", "max-chars", "joblog",
    "results", "res", "tmpdir", "workdir", "wd", "timeout", "delay", "retries",
    "tag-string", "tagstring", "basefile", "return", "transferfile", "env", "halt",
    "memfree", "load", "nice", "header", "block", "recend", "recstart", "termseq",
)  # fmt: skip
#: Options with which parallel only prints something and runs nothing.
PARALLEL_INFO = (
    "--version", "--help", "-h", "--citation", "--bibtex", "--number-of-cpus",
    "--number-of-cores", "--number-of-threads", "--number-of-sockets", "--record-env",
)  # fmt: skip
#: GNU parallel's replacement strings: `{}`, `{.}`, `{/}`, `{//}`, `{/.}`, `{1}`, `{#}`.
REPLACEMENT = re.compile(r"\{\d*(?:\.|/|//|/\.)?\}|\{[#%]\}")
MAX_INPUTS = 64  # parallel's arguments read one by one; the rest is unknown
GDB_EVAL = frozenset(
    ("-ex", "--ex", "-eval-command", "--eval-command", "-iex", "--iex",
     "-init-eval-command", "--init-eval-command")
)  # fmt: skip
GDB_VALUES = frozenset(
    ("-x", "--x", "-command", "--command", "-ix", "-init-command", "--init-command",
     "-p", "-pid", "--pid", "-c", "-core", "--core", "-d", "-directory", "--directory",
     "-s", "-symbols", "--symbols", "-e", "-exec", "--exec", "-se", "-cd", "--cd",
     "-tty", "--tty", "-b", "-l", "-D", "-data-directory", "--data-directory",
     "-i", "-interpreter", "--interpreter")
)  # fmt: skip
GDB_SHELL = re.compile(r"\s*(?:shell\b|!)\s*")
TRACE_LONG = (
    "attach", "output", "user", "env", "trace", "signal", "status", "string-limit",
    "trace-path", "detach-on", "columns", "summary-sort-by", "summary-columns", "library",
    "config", "align", "indent",
)  # fmt: skip


def _parallel(args: list[Word], call: Call) -> list[Word] | None:
    """`parallel [opts] TEMPLATE ::: ARGS`: TEMPLATE filled with each argument, run by a
    shell (or each argument run as a command when there is no template)."""
    cut = next((i for i, w in enumerate(args) if w.value in PARALLEL_SEPARATORS), len(args))
    opts = parse_options(args[:cut], PARALLEL_SHORT, PARALLEL_LONG)
    if opts.has(*PARALLEL_INFO):
        return None
    inputs = _inputs(args[cut:], opts.has("-a", "--arg-file"), call)
    marker = opts.get("-I", "--replace")
    pattern = re.compile(re.escape(marker.text)) if marker is not None else REPLACEMENT
    lines = [_fill(opts.operands, arg, pattern) for arg in inputs] if opts.operands else inputs
    parts: list[Part] = []
    for line in lines:
        parts.extend([*line.parts, Part("\n")])
    call.script = ShellString(join(parts), "parallel")
    return []


def _inputs(rest: list[Word], from_file: bool, call: Call) -> list[Word]:
    """What parallel fills its template with: `:::` words, `::::` files' lines, stdin."""
    if not rest:
        if from_file:
            return [hole("parallel's input file")]
        return list(call.feed) or [hole("parallel's input")]
    out: list[Word] = []
    files = False
    for word in rest:
        if word.value in PARALLEL_SEPARATORS:
            files = (word.value or "").startswith("::::")
        else:
            out.append(hole(f"lines of {word.text}") if files else word)
    if len(out) > MAX_INPUTS:
        out = [*out[:MAX_INPUTS], hole("the rest of parallel's input")]
    return out


def _fill(template: list[Word], arg: Word, pattern: re.Pattern[str]) -> Word:
    """One command line: the replacement strings filled (parallel quotes the argument),
    or the argument appended when there are none."""
    value = lit(shlex.quote(arg.text)) if arg.exact else arg
    filled: list[Word] = []
    found = False
    for word in template:
        parts: list[Part] = []
        for part in word.parts:
            pieces = pattern.split(part.text) if part.kind == "lit" else [part.text]
            if part.kind != "lit" or len(pieces) == 1:
                parts.append(part)
                continue
            found = True
            for i, piece in enumerate(pieces):
                parts.extend([*(value.parts if i else ()), Part(piece)])
        filled.append(join(parts, word.ran | value.ran))
    return spaced(filled if found else [*filled, value])


def _script(args: list[Word], call: Call) -> list[Word] | None:
    """`script -c STRING [FILE]`: a shell runs STRING (a typescript is recorded)."""
    opts = parse_options(
        args, "cTIOBmE", ("command", "timing", "log-in", "log-out", "log-io", "echo"), True
    )
    text = opts.get("-c", "--command")
    if text is None:
        return None
    call.script = ShellString(text, "script -c")
    return []


def _chroot(args: list[Word], call: Call) -> list[Word] | None:
    """`chroot DIR CMD`: CMD runs as root with DIR as its `/`."""
    opts = parse_options(args, "", ("userspec", "groups"))
    if len(opts.operands) < 2:
        return None
    call.remote = f"chroot {opts.operands[0].text}"
    return opts.operands[1:]


def _unshare(args: list[Word], call: Call) -> list[Word] | None:
    """`unshare [-r] [-m] CMD`: CMD in new namespaces (another root with `--root`)."""
    long = ("propagation", "setgroups", "root", "wd", "setuid", "setgid", "load-interp")
    opts = parse_options(args, "RwSGl", long)
    root = opts.get("-R", "--root")
    if root is not None:
        call.remote = f"unshare --root {root.text}"
    call.cwd = opts.get("-w", "--wd") or call.cwd
    return opts.operands or None


def _tracer(name: str, short: str) -> Handler:
    """`strace [-f] CMD`, `ltrace CMD`: CMD runs (as `-u USER` when given)."""

    def handler(args: list[Word], call: Call) -> list[Word] | None:
        """The traced command; its user and environment from the tracer's options."""
        opts = parse_options(args, short, TRACE_LONG)
        user = opts.get("-u", "--user")
        if user is not None:
            call.user = call.user or f"{name} -u {user.text}"
        for pair in filter(None, map(assignment, opts.every("-E", "--env"))):
            call.env[pair[0]] = pair[1]
        return opts.operands or None

    return handler


def _gdb(args: list[Word], call: Call) -> list[Word] | None:
    """`gdb --args CMD` runs CMD; `gdb -ex 'shell STR'` (or `!STR`) runs STR in a shell."""
    shells: list[Word] = []
    i = 0
    while i < len(args):
        text = args[i].value or ""
        if text in ("--args", "-args"):
            _gdb_script(shells, call)
            return args[i + 1 :]
        name, eq, _value = text.partition("=")
        if name in GDB_EVAL:
            given = args[i + 1 : i + 2] or [lit("")]
            shells.extend(_gdb_shell(tail(args[i], len(name) + 1) if eq else given[0]))
        evaluated = name in GDB_EVAL and not eq
        i += 2 if evaluated or text in GDB_VALUES else 1
    _gdb_script(shells, call)
    return [] if shells else None


def _gdb_shell(command: Word) -> list[Word]:
    """The shell string in one gdb command: `shell STR` or `!STR`; an unknown command
    may be one; a bare `shell` starts one nobody can read."""
    match = GDB_SHELL.match(command.known)
    if match is None:
        return [] if command.exact else [hole(f"gdb -ex {command.text}")]
    rest = tail(command, match.end())
    return [rest] if rest.text.strip() else [hole("an interactive shell from gdb")]


def _gdb_script(shells: list[Word], call: Call) -> None:
    """The shell commands gdb runs, one per line, as the string a shell reads."""
    if shells:
        parts = [p for w in shells for p in (*w.parts, Part("\n"))]
        ran = frozenset[str]().union(*(w.ran for w in shells))
        call.script = ShellString(join(parts, ran), "gdb shell")


def _firejail(args: list[Word], call: Call) -> list[Word] | None:
    """`firejail [--opts] CMD`: a sandbox, but on this machine's files."""
    return parse_options(args).operands or None


def _proot(args: list[Word], call: Call) -> list[Word] | None:
    """`proot [-r ROOTFS] [-b A:B] [-w DIR] CMD`: another root when -r/-R/-S is given."""
    long = ("rootfs", "bind", "mount", "qemu", "pwd", "cwd", "verbose", "kernel-release")
    opts = parse_options(args, "rbmqwvkiRS", long)
    root = opts.get("-r", "--rootfs", "-R", "-S")
    if root is not None:
        call.remote = f"proot -r {root.text}"
    else:
        call.cwd = opts.get("-w", "--pwd", "--cwd") or call.cwd
    return opts.operands or None


def _nsenter(args: list[Word], call: Call) -> list[Word] | None:
    """`nsenter -t PID -m CMD`: CMD in another process's namespaces (its root, mounts)."""
    opts = parse_options(args, "tSGN", ("target", "setuid", "setgid", "net-socket"))
    if not opts.operands:
        return None
    call.remote = "another process's namespaces (nsenter)"
    return opts.operands


HANDLERS: dict[str, Handler] = {
    "parallel": _parallel,
    "script": _script,
    "chroot": _chroot,
    "unshare": _unshare,
    "strace": _tracer("strace", "abeEIoOpPsSuUX"),
    "ltrace": _tracer("ltrace", "aADeFlnopsuwx"),
    "gdb": _gdb,
    "firejail": _firejail,
    "proot": _proot,
    "nsenter": _nsenter,
}
