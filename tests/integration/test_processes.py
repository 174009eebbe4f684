"""Killing a run's process groups, with real processes and signals."""

from __future__ import annotations

import os
import signal
import subprocess

from dispatcher.processes import kill_group
from tests.helpers.processes import gone, wait_until


def test_a_group_whose_leader_was_killed_alone_is_still_killed() -> None:
    """A worker killed on its own leaves the children it started in its group (a git
    command holding the worktree's lock, say): taking its run back kills them too."""
    leader = subprocess.Popen(
        ["sh", "-c", "sleep 60 & echo $!; wait"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert leader.stdout is not None
    child = int(leader.stdout.readline())
    try:
        os.kill(leader.pid, signal.SIGKILL)
        leader.wait()  # reaped: the pid is free, the group lives on in its child
        assert os.getpgid(child) == leader.pid and not gone(child)
        assert kill_group(leader.pid)
        wait_until(lambda: gone(child), timeout=5)
    finally:
        if not gone(child):
            os.kill(child, signal.SIGKILL)
        leader.stdout.close()


def test_a_pid_that_is_now_another_groups_member_is_left_alone() -> None:
    """A recorded group id that is now the pid of a process in some other group (the
    pid reused) is not a group to kill."""
    other = subprocess.Popen(["sleep", "60"])  # in this test's own group
    try:
        assert not kill_group(other.pid)
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()
