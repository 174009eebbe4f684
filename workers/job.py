"""What a worker is handed: which run, which board, how to keep the lease (from the
dispatcher); and what the worker template worked out once for every worker it forks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from profiles import Profile
    from workers.secrets import Masker


@dataclass(frozen=True, slots=True)
class Prepared:
    """Read from the profile files and the settings file by the worker template, and
    read again only when one of them changes (see `workers.template`): the secrets of
    card work and their masker, and every profile, validated with the settings'
    defaults. A worker forked with it skips reading them itself."""

    secrets: frozenset[str]
    masker: Masker
    profiles: Mapping[str, Profile]


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
