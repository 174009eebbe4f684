"""The `command` runner: the card body as a bash script (`bash -euo pipefail`).

The script runs in its own process group, with its output appended to the run's log;
a timeout or a lost lease kills the whole group. Exit 0 is success; the last 4 KiB of
output become the card's result.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

from workers.logs import tail
from workers.runners.base import Outcome, RunContext, run_env

RESULT_BYTES = 4096
POLL = 0.05


class CommandRunner:
    """Runs the card body with bash in the workspace."""

    def run(self, ctx: RunContext) -> Outcome:
        """Run the script until it exits, times out, or the lease is lost."""
        return run_process(["bash", "-euo", "pipefail", "-c", ctx.card.body], ctx)


def run_process(argv: list[str], ctx: RunContext) -> Outcome:
    """Run `argv` in the workspace, output appended to the run log, in its own group."""
    env = run_env(ctx)
    with ctx.log_path.open("ab") as log:
        start = log.tell()
        proc = subprocess.Popen(
            argv,
            cwd=ctx.workspace,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own group: a timeout kills it and its children
        )
    ctx.on_process(proc.pid)
    code, timed_out = _wait(proc, ctx)
    output = tail(ctx.log_path, start, RESULT_BYTES)
    if timed_out:
        return Outcome(False, output, f"timed out after {ctx.timeout:g}s", None, True)
    if code is None:
        return Outcome(False, output, "stopped: the lease was lost")
    if code == 0:
        return Outcome(True, output, exit_code=0)
    return Outcome(False, output, _describe(code, output), code)


def _wait(proc: subprocess.Popen[bytes], ctx: RunContext) -> tuple[int | None, bool]:
    deadline = None if ctx.timeout is None else time.monotonic() + ctx.timeout
    while True:
        try:
            return proc.wait(timeout=POLL), False
        except subprocess.TimeoutExpired:
            pass
        if ctx.lost.is_set() or (deadline is not None and time.monotonic() > deadline):
            kill_group(proc.pid)
            proc.wait()
            return None, not ctx.lost.is_set()


def kill_group(pgid: int) -> None:
    """SIGKILL a process group if it is still there."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _describe(code: int, output: str) -> str:
    reason = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
    last = next((line.strip() for line in reversed(output.splitlines()) if line.strip()), "")
    return f"{reason}: {last[:300]}" if last else reason
