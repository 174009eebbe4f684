"""Programs that run another program: `sudo rm`, `env X=1 git`, `xargs rm`, `bash -c`.

A rule for `rm` must see the `rm` in `nice -n 5 timeout 60 sudo -u app rm -rf /srv`, and
must know it runs as another user. Wrappers are peeled off one by one (each knowing its
own options), what they change is kept (user, directory, environment, a container it
runs in), and command strings that another shell will read (`bash -c STR`, `eval`,
`su -c`, `watch`, `flock -c`, `trap`) are handed back to be parsed like the command
itself. Tracers, sandboxes and other roots are in `sandbox`.
"""

from __future__ import annotations

from workers.gate.argv import Options, first_operand, parse_options
from workers.gate.calls import (
    Call,
    Handler,
    ShellString,
    assignments,
    plain,
    skip_then,
    substitute,
)
from workers.gate.command import Command, program
from workers.gate.sandbox import HANDLERS
from workers.gate.words import Part, Word, lit, spaced

MAX_WRAPPERS = 12
SHELLS = frozenset(("sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "busybox-sh"))
RUN_AS = frozenset(("sudo", "su", "doas", "runuser", "pkexec", "sudoedit"))

__all__ = ["SHELLS", "Call", "ShellString", "piped_script", "reads_stdin", "substitute", "unwrap"]


def unwrap(words: list[Word], feed: tuple[Word, ...]) -> Call:
    """Peel wrappers off `words`; `feed` is what stdin gives `xargs` (its extra args)."""
    call = Call(list(words), feed=feed)
    for _ in range(MAX_WRAPPERS):
        name = program(call.argv[0]) if call.argv else ""
        handler = WRAPPERS.get(name)
        rest = handler(call.argv[1:], call) if handler else None
        if rest is None:
            break
        call.wrappers.append(name)
        if name in RUN_AS:
            call.user = call.user or name
        call.argv = rest
    if call.script is None:
        call.script = shell_string(call.argv)
    return call


def shell_string(argv: list[Word]) -> ShellString | None:
    """The string `bash -c`, `eval`, `watch` or `trap` gives a shell to parse, if any."""
    name = program(argv[0]) if argv else ""
    if name == "eval" and len(argv) > 1:
        return ShellString(spaced(argv[1:]), "eval", scope="same")
    if name == "trap":
        return _trap(argv[1:])
    if name == "watch":
        opts = parse_options(argv[1:], "nq", ("interval", "differences"))
        if opts.operands and not opts.has("-x", "--exec"):
            return ShellString(spaced(opts.operands), "watch")
    if name not in SHELLS:
        return None
    return _dash_c(argv[1:], name)


def _trap(args: list[Word]) -> ShellString | None:
    """`trap 'STRING' SIGNAL...`: STRING runs later (on exit, on a signal) in this shell.

    It is read on a copy of the shell: what it changes happens after everything else.
    One operand, `-` or a number first means the signals are reset, not set.
    """
    operands = parse_options(args).operands
    if len(operands) < 2 or operands[0].value == "-" or (operands[0].value or "x").isdigit():
        return None
    return ShellString(operands[0], "trap", scope="copy")


def _dash_c(args: list[Word], name: str) -> ShellString | None:
    """`bash [options] -c STRING [$0 [$1...]]`; -c may hide in a cluster (`-lc`, `-ec`)."""
    dash_c = False
    for i, word in enumerate(args):
        text = word.value or ""
        if text in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
            continue
        if i and (args[i - 1].value or "") in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
            continue
        if text.startswith(("-", "+")) and not text.startswith("--") and len(text) > 1:
            dash_c = dash_c or "c" in text[1:]
            continue
        if text.startswith("--"):
            continue
        if dash_c:
            return ShellString(word, f"{name} -c", args=tuple(args[i + 1 :]))
        return None
    return None


# -- the wrappers ----------------------------------------------------------------------


def _env(args: list[Word], call: Call) -> list[Word] | None:
    opts = parse_options(args, "uCS", ("unset", "chdir", "split-string"))
    call.cwd = opts.get("-C", "--chdir") or call.cwd
    split = opts.get("-S", "--split-string")
    if split is not None:
        call.script = ShellString(split, "env -S")
    return assignments(opts.operands, call)


def _command(args: list[Word], call: Call) -> list[Word] | None:
    opts = parse_options(args)
    return [] if opts.has("-v", "-V") else opts.operands


def _sudo(args: list[Word], call: Call) -> list[Word] | None:
    opts = parse_options(
        args,
        "ugCDhprtTUR",
        (
            "user",
            "group",
            "close-from",
            "chdir",
            "host",
            "prompt",
            "role",
            "type",
            "command-timeout",
            "other-user",
            "chroot",
        ),
    )
    call.cwd = opts.get("-D", "--chdir") or call.cwd
    if opts.has("-e", "--edit"):
        return []
    return assignments(opts.operands, call)


def _su(args: list[Word], call: Call) -> list[Word] | None:
    """`su [-] [user] -c STR`, `runuser -u user CMD`: the string or command it runs."""
    words = [w for w in args if w.value not in ("-", "-l", "--login")]
    opts = parse_options(
        words,
        "cgGswu",
        ("command", "session-command", "shell", "group", "supp-group", "user"),
        interleaved=True,
    )
    if opts.has("-u", "--user"):
        return opts.operands
    text = opts.get("-c", "--command", "--session-command")
    if text is not None:
        call.script = ShellString(text, "su -c")
    return []


def _flock(args: list[Word], call: Call) -> list[Word] | None:
    opts = parse_options(args, "wEc", ("timeout", "wait", "conflict-exit-code", "command"))
    rest = opts.operands[1:]
    if rest and rest[0].value in ("-c", "--command") and len(rest) > 1:
        call.script = ShellString(rest[1], "flock -c")
        return []
    text = opts.get("-c", "--command")
    if text is not None:
        call.script = ShellString(text, "flock -c")
        return []
    return rest


def _xargs(args: list[Word], call: Call) -> list[Word] | None:
    opts = parse_options(
        args,
        "adEILnPs",
        (
            "arg-file",
            "delimiter",
            "eof",
            "replace",
            "max-lines",
            "max-args",
            "max-procs",
            "max-chars",
            "process-slot-var",
        ),
    )
    command = opts.operands or [lit("echo")]
    feed = call.feed or (Word((Part("xargs input", "hole"),)),)
    marker = _replace_string(opts)
    if marker is None:
        return [*command, *feed]
    return [substitute(word, marker, feed[0]) for word in command]


def _replace_string(opts: Options) -> str | None:
    if opts.has("-i", "--replace"):
        value = opts.get("--replace")
        return value.value if value is not None and value.value else "{}"
    value = opts.get("-I")
    return value.value if value is not None else None


def _subcommand(names: frozenset[str], short: str = "", long: tuple[str, ...] = ()) -> Handler:
    """`uv run CMD`, `bundle exec CMD`: a tool whose subcommand runs a command."""

    def handler(args: list[Word], call: Call) -> list[Word] | None:
        """The command after `run`/`exec`; None when the tool is used otherwise."""
        if not args or args[0].value not in names:
            return None
        return parse_options(args[1:], short, long).operands

    return handler


def _npx(args: list[Word], call: Call) -> list[Word] | None:
    opts = parse_options(args, "pc", ("package", "call"))
    text = opts.get("-c", "--call")
    if text is not None:
        call.script = ShellString(text, "npx -c")
        return []
    return opts.operands


def _container(args: list[Word], call: Call) -> list[Word] | None:
    """`docker exec [opts] CONTAINER CMD`, `docker compose exec|run [opts] SERVICE CMD`."""
    start = first_operand(args, "Hcl", ("host", "context", "config", "log-level"))
    rest = args[start:]
    if rest and rest[0].value == "compose":
        rest = rest[1 + first_operand(rest[1:], "fp", COMPOSE_GLOBAL) :]
    if not rest or rest[0].value not in ("exec", "run"):
        return None
    if rest[0].value == "run" and not (args[start].value == "compose"):
        return None
    opts = parse_options(rest[1:], "euwvplT", CONTAINER_VALUES)
    call.remote = opts.operands[0].text if opts.operands else "a container"
    return opts.operands[1:]


def _compose(args: list[Word], call: Call) -> list[Word] | None:
    return _container([lit("compose"), *args], call)


def _kubectl(args: list[Word], call: Call) -> list[Word] | None:
    values = ("namespace", "context", "kubeconfig", "container", "cluster", "user")
    start = first_operand(args, "n", values)
    if start >= len(args) or args[start].value != "exec":
        return None
    rest = args[start + 1 :]
    dashes = next((i for i, w in enumerate(rest) if w.value == "--"), None)
    call.remote = "a pod"
    if dashes is not None:
        return rest[dashes + 1 :]
    return parse_options(rest, "cn", values).operands[1:]


COMPOSE_GLOBAL = ("file", "project-name", "profile", "env-file", "project-directory", "ansi")
CONTAINER_VALUES = (
    "env", "env-file", "user", "workdir", "volume", "publish", "label", "name",
    "entrypoint", "index", "cap-add", "cap-drop", "pull", "detach-keys", "network",
)  # fmt: skip
RUNNERS = frozenset(("run",))
WRAPPERS: dict[str, Handler] = {
    "env": _env,
    "command": _command,
    "builtin": plain(),
    "exec": plain("a"),
    "nice": plain("n", ("adjustment",)),
    "nohup": plain(),
    "time": plain("fo", ("format", "output")),
    "timeout": skip_then(1, "sk", ("signal", "kill-after")),
    "stdbuf": plain("ioe", ("input", "output", "error")),
    "ionice": skip_then(0, "cnpPu", ("class", "classdata", "pid", "pgid", "uid")),
    "chrt": skip_then(1, "TPD", ("sched-runtime", "sched-period", "sched-deadline")),
    "taskset": skip_then(1, "", ()),
    "setsid": plain(),
    "flock": _flock,
    "xargs": _xargs,
    "sudo": _sudo,
    "doas": plain("uC"),
    "su": _su,
    "runuser": _su,
    "pkexec": plain("", ("user",)),
    "busybox": plain(),
    "coproc": plain(),
    "unbuffer": plain(),
    "npx": _npx,
    "bunx": _npx,
    "pnpx": _npx,
    "uvx": plain("p", ("from", "with", "python")),
    "uv": _subcommand(RUNNERS, "p", ("with", "python", "package", "extra", "group", "env-file")),
    "poetry": _subcommand(RUNNERS),
    "pipenv": _subcommand(RUNNERS),
    "pdm": _subcommand(RUNNERS),
    "hatch": _subcommand(RUNNERS),
    "rye": _subcommand(RUNNERS),
    "conda": _subcommand(RUNNERS, "np", ("name", "prefix")),
    "bundle": _subcommand(frozenset(("exec",))),
    "pnpm": _subcommand(frozenset(("exec", "dlx"))),
    "yarn": _subcommand(frozenset(("exec", "dlx"))),
    "npm": _subcommand(frozenset(("exec",))),
    "docker": _container,
    "podman": _container,
    "docker-compose": _compose,
    "kubectl": _kubectl,
    **HANDLERS,
}


def reads_stdin(argv: list[Word]) -> bool:
    """Whether a shell takes its script from stdin: no `-c`, no script file (or `-s`)."""
    for word in argv[1:]:
        text = word.value or "?"
        if text in ("-s", "-"):
            return True
        if text.startswith("-") and not text.startswith("--") and "c" in text:
            return False
        if not text.startswith(("-", "+")):
            return False
    return True


def piped_script(stdin: tuple[Word, ...], feed: tuple[Command, ...]) -> Word | None:
    """The script a shell reads from stdin: a heredoc, or what `cat`/`echo` pipe in."""
    if stdin:
        return stdin[-1]
    source = feed[-1] if feed else None
    if source is None:
        return None
    if source.prog == "cat" and source.stdin:
        return source.stdin[-1]
    if source.prog in ("echo", "printf") and len(source.argv) > 1:
        words = [w for w in source.argv[1:] if not (w.value or "").startswith("-")]
        return spaced(words[1:] if source.prog == "printf" and len(words) > 1 else words)
    return None
