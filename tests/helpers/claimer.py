"""A worker-like process for concurrency tests: claims (and completes) until the board is
empty, then prints the card ids it claimed as JSON. Started many times at once."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from board import open_store
from board.clock import utcnow


def main() -> None:
    url, go_file = sys.argv[1], Path(sys.argv[2])
    store = open_store(url)
    while not go_file.exists():  # start together, so the claims really contend
        time.sleep(0.005)
    claimed: list[int] = []
    while (
        claim := store.claim(utcnow(), 60, worker=f"w{os.getpid()}", pid=os.getpid())
    ) is not None:
        claimed.append(claim.card_id)
        assert store.complete(claim.run_id, utcnow(), result=f"by {os.getpid()}")
    print(json.dumps(claimed))


if __name__ == "__main__":
    main()
