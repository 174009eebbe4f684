"""Hearing of board commits at once: LISTEN/NOTIFY on PostgreSQL, inotify on the folder
of a SQLite board (Linux).

PostgreSQL announces every change from inside the writing transaction (`pg_notify`), so
the notification arrives when the change commits: the LISTEN connection's socket becomes
readable and the watch looks at once, with no polling of the server.

On SQLite every commit writes the board's files (the `-wal` file in WAL mode), so a
write in that folder is the moment to look at `PRAGMA data_version` again, instead of
waiting for the next poll. The folder is watched rather than the files, so the watch
outlives a `-wal` file that is removed and made again. Where inotify is missing (not
Linux) `open_watch` returns None and the dispatcher's poll alone notices changes.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
from collections.abc import Callable
from pathlib import Path

from board.db import open_database, sqlite_path
from hermes.errors import HermesError

IN_MODIFY = 0x002
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
#: A commit writes its pages before it is durable and visible (the fsync comes after):
#: when a write is seen but `data_version` has not moved yet, look again after these.
RECHECKS = (0.001, 0.002, 0.004, 0.008, 0.016)


class BoardWatch:
    """Calls `changed` when another connection commits to the board: at once where
    inotify tells of writes, and whenever `look` is called (the caller's poll)."""

    def __init__(self, db_url: str, changed: Callable[[], None]) -> None:
        self._db = open_database(db_url)
        self._seen = self._db.data_version()
        self._changed = changed
        self._files: FolderWatch | None = None
        self._recheck: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: PostgreSQL's LISTEN socket: readable when a change is announced
        self._socket = self._db.fileno()
        if self._socket is None:
            try:
                self._files = open_watch(sqlite_path(db_url).parent)
            except HermesError:
                pass  # not a local file: the poll alone

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Listen for announced changes (or writes to the board's files) on `loop`."""
        self._loop = loop
        if self._socket is not None:
            loop.add_reader(self._socket, self.look)
        elif self._files is not None:
            loop.add_reader(self._files.fd, self._written)

    def look(self) -> bool:
        """Whether the board changed since last seen (calling `changed` if so)."""
        version = self._db.data_version()
        if self._socket is not None and self._loop is not None:
            socket = self._db.fileno()  # a new one after a lost connection was made again
            if socket != self._socket:
                self._loop.remove_reader(self._socket)
                self._socket = socket
                if socket is not None:
                    self._loop.add_reader(socket, self.look)
        if version == self._seen:
            return False
        self._seen = version
        self._changed()
        return True

    def _written(self) -> None:
        assert self._files is not None
        self._files.drain()
        if not self.look() and self._recheck is None:
            self._look_again(0)

    def _look_again(self, step: int) -> None:
        self._recheck = None
        if step and self.look():
            return
        if step < len(RECHECKS) and self._loop is not None:
            self._recheck = self._loop.call_later(RECHECKS[step], self._look_again, step + 1)

    def close(self) -> None:
        """Stop listening and let the connection go."""
        if self._recheck is not None:
            self._recheck.cancel()
        if self._socket is not None and self._loop is not None:
            self._loop.remove_reader(self._socket)
        if self._files is not None:
            if self._loop is not None:
                self._loop.remove_reader(self._files.fd)
            self._files.close()
        self._db.close()


class FolderWatch:
    """An inotify descriptor that becomes readable when a file in a folder is written."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def drain(self) -> None:
        """Read the pending events (their content does not matter, only that they came)."""
        try:
            while os.read(self.fd, 65536):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        os.close(self.fd)


def open_watch(folder: Path) -> FolderWatch | None:
    """Watch `folder` for writes; None where inotify is not available."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        init, add = libc.inotify_init1, libc.inotify_add_watch
    except (OSError, AttributeError):
        return None
    fd = init(IN_NONBLOCK | IN_CLOEXEC)
    if fd < 0:
        return None
    if add(fd, os.fsencode(folder), IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0:
        os.close(fd)
        return None
    return FolderWatch(fd)
