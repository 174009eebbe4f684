"""Signals to worker processes on this host, done carefully.

A worker leads its own process group (and its runner leads another), so killing a group
takes every process the run started. The group id is checked first: a pid that was never
a group leader (or was reused) must not turn a kill into one of someone else's group.
"""

from __future__ import annotations

import os
import signal


def alive(pid: int) -> bool:
    """Whether a process with this pid is running; a zombie (dead, not yet reaped by a
    parent that may itself be frozen) is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:  # Linux: the state follows ")"
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): the signal check is all we have


def started_at(pid: int) -> float | None:
    """When the process with this pid started (seconds since the epoch), or None when
    that cannot be told (no /proc). A pid reused after a reboot or a long time started
    later than the process that once had it."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            ticks = int(handle.read().rsplit(b")", 1)[1].split()[19])
        with open("/proc/stat", "rb") as handle:
            boot = next(int(line.split()[1]) for line in handle if line.startswith(b"btime "))
    except (OSError, IndexError, ValueError, StopIteration):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def kill_group(pgid: int | None) -> bool:
    """SIGKILL the process group led by `pgid`; False if there was none to kill.

    A leader killed on its own (a worker killed with `kill -9 PID`, not its group) can
    leave its children running in its group, a git command holding a lock say: they are
    killed too. The group's id cannot be another process's while the group has members,
    so a gone leader is no reason not to."""
    if not pgid or pgid <= 1:
        return False
    try:
        if os.getpgid(pgid) != pgid:
            return False  # the pid is another process's now, in another group: do not guess
    except ProcessLookupError:
        pass  # the leader is gone; what it left in its group is not
    except PermissionError:
        return False
    try:
        os.killpg(pgid, signal.SIGKILL)  # also ends a frozen (SIGSTOPped) group
    except (ProcessLookupError, PermissionError):
        return False
    return True


def describe_exit(code: int) -> str:
    """`exit code 3` or `killed by SIGKILL`, for a worker's exit status."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
