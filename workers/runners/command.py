"""The `command` runner: the card body as a bash script (`bash -euo pipefail`).

The script runs on the profile's backend, in its own process group, with its output
appended (masked) to the run's log. Exit 0 is success; the last 4 KiB of output become
the card's result. Its deadline and a lost lease are the worker's to enforce: they kill
the script's whole tree and the worker says how the attempt ended.
"""

from __future__ import annotations

from workers.logs import open_log, tail
from workers.runners.base import Outcome, RunContext, execute

RESULT_BYTES = 4096


class CommandRunner:
    """Runs the card body with bash in the workspace."""

    def run(self, ctx: RunContext) -> Outcome:
        """Run the script until it exits or the attempt is stopped."""
        return run_process(["bash", "-euo", "pipefail", "-c", ctx.card.body], ctx)


def run_process(argv: list[str], ctx: RunContext) -> Outcome:
    """Run `argv` in the workspace on the profile's backend, output into the run log."""
    with open_log(ctx.log_path) as log:
        start = log.tell()
        finished = execute(ctx, argv, log)
    output = tail(ctx.log_path, start, RESULT_BYTES)
    if finished.code is None:
        return Outcome(False, output, "stopped")
    if finished.code == 0:
        return Outcome(True, output, exit_code=0)
    return Outcome(False, output, _describe(finished.code, output), finished.code)


def _describe(code: int, output: str) -> str:
    reason = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
    last = next((line.strip() for line in reversed(output.splitlines()) if line.strip()), "")
    return f"{reason}: {last[:300]}" if last else reason
