"""The `hermes` command: runs the typer app and turns every failure into one clear line.

Exit codes are part of the contract: 0 success, 2 bad input (usage errors and every
`HermesError`), 1 the environment (an unwritable home, a full disk, a corrupt board) or
anything unexpected. Errors are one `error: ...` line on stderr; a traceback appears only
with `HERMES_DEBUG=1`.
"""

from __future__ import annotations

import copy
import gc
import os
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hermes.errors import HermesError, InvalidInput

if TYPE_CHECKING:
    from typer import Typer
    from typer.models import CommandInfo, TyperInfo


#: `-h` is `--help` everywhere: click hands this setting down to every subcommand.
HELP_OPTIONS = ["-h", "--help"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with `argv` (default: the process arguments); returns the exit code."""
    from hermes.packages import check_packages

    try:
        check_packages()
    except HermesError as exc:
        return _fail(str(exc), exc.exit_code, exc)
    # Importing typer, click and the board makes many objects and no garbage: the
    # collections their allocations would start cost about 3 % of a short command.
    gc.disable()
    try:
        from typer import Abort, Exit, TyperException
        from typer.main import get_command

        from hermes.cli.app import app
    finally:
        gc.enable()

    args = list(sys.argv[1:] if argv is None else argv)
    # Building click's command for every hermes command costs more than most commands
    # take to run; build only the path the arguments name.
    command = get_command(_pruned(app, args))
    try:
        _check_utf8(args)
        result = command.main(
            args=args, prog_name="hermes", standalone_mode=False, help_option_names=HELP_OPTIONS
        )
    except HermesError as exc:
        return _fail(str(exc), exc.exit_code, exc)
    except TyperException as exc:  # click's usage errors: bad option, bad value, ...
        return _usage_error(exc)
    except (Abort, KeyboardInterrupt):
        print(file=sys.stderr)
        return 130
    except Exit as exc:
        return int(exc.exit_code)
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except OSError as exc:  # a full disk, a read-only home: the environment, not a bug
        return _fail(_os_error_message(exc), 1, exc)
    except Exception as exc:
        message = f"unexpected {type(exc).__name__}: {exc}"
        if not os.environ.get("HERMES_DEBUG"):
            message += " (set HERMES_DEBUG=1 to see the traceback)"
        return _fail(message, 1, exc)
    return result if isinstance(result, int) else 0


def _pruned(app: Typer, args: list[str]) -> Typer:
    """`app` with, at each level the arguments name, only the named command or group.

    Parsing, help and errors of that command are exactly what the whole tree gives; a
    word that names nothing (an option, `--help`, a typo, a goal's objective) keeps the
    whole level, so listings and "did you mean" see every command.
    """
    from typer.main import get_command_name
    from typer.models import DefaultPlaceholder

    if not args:
        return app
    word = args[0]
    for info in app.registered_commands:
        name = info.name or get_command_name(getattr(info.callback, "__name__", ""))
        if name == word:
            return _only(app, commands=[info], groups=[])
    for group in app.registered_groups:
        if not isinstance(group.name, DefaultPlaceholder) and group.name == word:
            inner = copy.copy(group)
            if group.typer_instance is not None:
                inner.typer_instance = _pruned(group.typer_instance, args[1:])
            return _only(app, commands=[], groups=[inner])
    return app


def _only(app: Typer, commands: list[CommandInfo], groups: list[TyperInfo]) -> Typer:
    pruned = copy.copy(app)
    pruned.registered_commands = commands
    pruned.registered_groups = groups
    return pruned


def _check_utf8(args: list[str]) -> None:
    """Refuse an argument that is not UTF-8: the board keeps text as UTF-8, and such an
    argument (decoded by Python with surrogate escapes) could not be stored or printed."""
    for arg in args:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = repr(os.fsencode(arg))[1:]  # the bytes as given, e.g. 'caf\xe9'
            raise InvalidInput(
                f"argument {shown} is not UTF-8 text; give it in UTF-8 (rename such a file)"
            ) from None


def _os_error_message(exc: OSError) -> str:
    """`cannot write /path: No space left on device; ...` for an OSError nothing handled."""
    where = f" {exc.filename}" if exc.filename else ""
    reason = exc.strerror or str(exc)
    return (
        f"cannot use{where}: {reason}; check that HERMES_HOME is writable "
        "and its disk has free space"
    )


def _fail(message: str, code: int, exc: BaseException) -> int:
    if os.environ.get("HERMES_DEBUG"):
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    from hermes.cli.printable import one_line

    print(f"error: {one_line(message)}", file=sys.stderr)
    return code


def _usage_error(exc: Exception) -> int:
    """Click reports usage errors in a box; we print one line that says where help is."""
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError":
        return 0  # `hermes board` alone: typer has printed the help already
    format_message = getattr(exc, "format_message", None)
    message = format_message() if callable(format_message) else str(exc)
    option = getattr(exc, "option_name", None)
    if type(exc).__name__ == "NoSuchOption" and re.fullmatch(r"-\d[\d.]*", option or ""):
        # `hermes board show -1`: click reads a negative number as an option; no hermes
        # option looks like that, and every number given as an argument is an id.
        message = (
            f"no such option: {option} (ids are positive numbers such as 12; "
            "a text that starts with - goes after --)"
        )
    message = _one_sentence(" ".join(str(message).split()))
    errors = getattr(exc.__cause__, "errors", None)  # typer converts values with pydantic
    if callable(errors) and errors() and "input" in errors()[0]:
        message += f" (got {errors()[0]['input']!r})"
    if ctx is not None:
        message += f"; see `{ctx.command_path} --help`"
    return _fail(message, int(getattr(exc, "exit_code", 2)), exc)


def _one_sentence(message: str) -> str:
    """Click's `No such command 'boar'. Did you mean 'board'?` as one lower-case clause,
    `no such command 'boar' (did you mean 'board'?)`, ready for `; see ...`."""
    message = re.sub(r"\.?\s+Did you mean (.+?)\?$", r" (did you mean \1?)", message)
    message = re.sub(r"\.?\s+\(Possible options: ", " (possible options: ", message)
    message = message.rstrip(".")
    return message[:1].lower() + message[1:]


def _silence_stdout() -> None:
    """After a closed pipe (`hermes board list | head`), exit quietly."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
