"""The board, for asyncio services: one connection on one thread, reached by a hop.

SQLite calls are quick but blocking; a service's event loop must never wait on one. Each
service (a chat platform, the web server) owns a BoardThread: its store lives on a
single worker thread, so the connection is only ever used from there, and every call
costs one thread hop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from board import Store, open_store

T = TypeVar("T")


class BoardThread:
    """`await board(lambda store: store.card(7))`."""

    def __init__(self, db_url: str, name: str = "board") -> None:
        self.db_url = db_url
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"hermes-{name}")
        self._store: Store | None = None

    async def __call__(self, fn: Callable[[Store], T]) -> T:
        """Run `fn` with the store, on the store's thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(self._opened()))

    def _opened(self) -> Store:
        if self._store is None:
            self._store = open_store(self.db_url)
        return self._store

    def close(self) -> None:
        """Close the connection (on its thread) and let the thread go."""

        def close_store() -> None:
            if self._store is not None:
                self._store.close()
                self._store = None

        self._executor.submit(close_store).result()
        self._executor.shutdown(wait=True)
