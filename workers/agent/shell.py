"""The `shell` tool: one bash command in the workspace, with a timeout and a cut output.

Long output keeps its head and its tail (where errors usually are) and says how much was
left out; a command past its timeout is killed with its whole process group.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

HEAD = 4000
TAIL = 4000


def run_shell(command: str, workspace: Path, timeout: float, env: dict[str, str]) -> str:
    """Run `command`; returns `exit code N` and the (possibly cut) combined output."""
    proc = subprocess.Popen(
        ["bash", "-c", command],
        cwd=workspace,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
        status = f"exit code {proc.returncode}"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        status = f"timed out after {timeout:g}s and was killed"
    return f"{status}\n{cut(out.decode('utf-8', errors='replace'))}".rstrip()


def cut(text: str, head: int = HEAD, tail: int = TAIL) -> str:
    """`text`, or its head and tail with the middle left out when it is long."""
    if len(text) <= head + tail:
        return text
    left_out = len(text) - head - tail
    return f"{text[:head]}\n[... {left_out} characters left out ...]\n{text[-tail:]}"
