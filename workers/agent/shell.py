"""The `shell` tool: one bash command in the workspace, on the profile's backend, with
a timeout and a cut output.

Long output keeps its head and its tail (where errors usually are) and says how much was
left out; a command past its timeout is killed with its whole process tree. Output is
masked (secrets -> ***) before the model or the transcript sees it.
"""

from __future__ import annotations

import io

from workers.runners.base import RunContext, execute

HEAD = 4000
TAIL = 4000


def run_shell(ctx: RunContext, command: str, timeout: float) -> str:
    """Run `command`; returns `exit code N` and the (possibly cut) combined output."""
    sink = io.BytesIO()
    finished = execute(ctx, ["bash", "-c", command], sink, limit=timeout)
    if finished.timed_out:
        status = f"timed out after {timeout:g}s and was killed"
    elif finished.code is None:
        status = "stopped: the attempt is ending"
    else:
        status = f"exit code {finished.code}"
    out = sink.getvalue().decode("utf-8", errors="replace")
    return f"{status}\n{cut(out)}".rstrip()


def cut(text: str, head: int = HEAD, tail: int = TAIL) -> str:
    """`text`, or its head and tail with the middle left out when it is long."""
    if len(text) <= head + tail:
        return text
    left_out = len(text) - head - tail
    return f"{text[:head]}\n[... {left_out} characters left out ...]\n{text[-tail:]}"
