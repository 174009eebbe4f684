"""Whether a registered dispatcher is really there: the board only says what it last
wrote, and a dispatcher killed with kill -9 (or whose host died) never writes `stopped`.

- recorded as stopped: `stopped`;
- on this host: `gone` once its pid is dead, or taken by a process that started after the
  dispatcher registered (a reused pid: the process's start, on this host's clock, is
  compared with the registration, on the board's clock, through the difference between
  the two clocks, so a PostgreSQL server whose clock is off does not make a live
  dispatcher look gone); otherwise `running` (`stopping` once a stop was
  asked), or `unresponsive` while alive but not heartbeating for longer than its lease
  (paused, say);
- on another host: `gone` once its registry heartbeat is older than its lease, which is
  all the board can tell of it.
"""

from __future__ import annotations

import time
from datetime import datetime

from board.clock import parse_iso
from board.dispatch_ops import Registered
from dispatcher.processes import alive, started_at
from hermes.paths import this_host

HOST = this_host()
DEFAULT_LEASE = 60.0  # for a dispatcher registered by a hermes that did not record one
#: Clock slack between a process's start and its registration on the board.
START_SLACK = 5.0

STATES = ("running", "stopping", "unresponsive", "gone", "stopped")


def judge(entry: Registered, now: datetime, host: str = HOST) -> str:
    """The state of a registered dispatcher (one of `STATES`); `now` is the board's
    clock, read just before (`store.now()`)."""
    info = entry.info
    if info.stopped_at is not None:
        return "stopped"
    silent = (now - parse_iso(info.heartbeat_at)).total_seconds()
    lease = entry.lease or DEFAULT_LEASE
    if info.host != host:
        if silent > lease:
            return "gone"
    elif not _ours(info.pid, parse_iso(info.started_at).timestamp() - _ahead(now)):
        return "gone"
    elif silent > lease:
        return "unresponsive"
    return "stopping" if entry.stop_requested_at else "running"


def _ahead(board_now: datetime) -> float:
    """How far the board's clock is ahead of this host's, in seconds (negative: behind)."""
    return board_now.timestamp() - time.time()


def _ours(pid: int, registered: float) -> bool:
    """Whether `pid` is still the process that registered at `registered` (this host's
    clock)."""
    if not alive(pid):
        return False
    began = started_at(pid)
    return began is None or began <= registered + START_SLACK


def live(entries: list[Registered], now: datetime) -> list[Registered]:
    """The dispatchers that are there to be asked something (running or stopping)."""
    return [e for e in entries if judge(e, now) in ("running", "stopping", "unresponsive")]
