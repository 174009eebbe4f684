"""What the dispatcher hands a worker: which run, which board, how to keep the lease."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class WorkerJob:
    """One claimed run to work; travels to the worker template as one JSON line."""

    run_id: int
    card_id: int
    db_url: str
    heartbeat: float
    lease: float
    backoff_base: float = 10.0
    backoff_cap: float = 300.0

    def to_line(self) -> bytes:
        """The job as a JSON line."""
        return (json.dumps(asdict(self)) + "\n").encode()

    @classmethod
    def from_line(cls, line: bytes | str) -> WorkerJob:
        """Parse a line written by `to_line`."""
        return cls(**json.loads(line))
