"""How bad it is to delete, overwrite or change a path, by where it resolves.

The contract in one place: inside the workspace anything goes (except `.git`); temp
files, caches and logs are low; recursive deletion or overwriting outside the workspace
is high; deleting a single file or editing one outside is medium; and a path that
depends on a run-time value is judged as if it were outside, since it may be.
"""

from __future__ import annotations

import os

from workers.gate.paths import Loc, Places, exists, in_git_dir, shared_root, where
from workers.gate.verdict import Level, Risk


def delete(loc: Loc, places: Places, verb: str, recursive: bool, whole: bool = True) -> Risk | None:
    """Deleting `loc` (`verb` names the command, e.g. `rm -r`, `find -delete`).

    `whole=False` says only some of the matches go (`find /tmp -name '*.pyc'`), so a
    temp or log root is not emptied.
    """
    kind = where(loc, places)
    shown = loc.describe()
    level: Level = "high" if recursive else "medium"
    if kind == "inside":
        if os.path.basename(loc.full) == ".git":
            return Risk("high", f"{verb} deletes the repository's .git ({shown})")
        return None
    if kind == "sink":
        return None
    root = shared_root(loc, places) if whole else None
    if kind in ("temp", "disposable") and root is not None:
        return Risk(level, f"{verb} empties {root}: other programs' files or the logs ({shown})")
    if kind in ("temp", "disposable"):
        return Risk("low", f"{verb} cleans up a cache, temporary file or log ({shown})")
    if kind == "unknown":
        return Risk(level, f"{verb} of a path that depends on {loc.unknown}")
    if kind == "workspace":
        return Risk(level, f"{verb} of the workspace itself ({shown})")
    if kind == "encloses":
        return Risk(level, f"{verb} of a directory holding the workspace or HOME ({shown})")
    if recursive:
        return Risk("high", f"{verb} outside the workspace ({shown})")
    return Risk("medium", f"{verb} deletes a file outside the workspace ({shown})")


def write(loc: Loc, places: Places, verb: str, overwrite: bool) -> Risk | None:
    """Writing `loc`: `overwrite` replaces its content, otherwise it is edited/appended."""
    kind = where(loc, places)
    shown = loc.describe()
    if in_git_dir(loc) and kind != "unknown":
        return Risk("high", f"{verb} writes into .git ({shown})")
    if kind in ("inside", "workspace", "sink", "temp"):
        return None
    if kind == "disposable":
        return Risk("low", f"{verb} writes to a cache or log outside the workspace ({shown})")
    if kind == "unknown":
        return Risk("medium", f"{verb} writes to a path that depends on {loc.unknown}")
    if kind == "device":
        return Risk("high", f"{verb} writes to a device ({shown})")
    what = {"dotfile": "a dotfile", "system": "a system file"}.get(kind, "a file")
    if not overwrite:
        return Risk("medium", f"{verb} edits {what} outside the workspace ({shown})")
    if kind in ("dotfile", "system") or exists(loc):
        return Risk("high", f"{verb} overwrites {what} outside the workspace ({shown})")
    return Risk("medium", f"{verb} writes {what} outside the workspace ({shown})")


def change(loc: Loc, places: Places, verb: str, recursive: bool) -> Risk | None:
    """Changing a path's mode or owner (`chmod`, `chown`, `chgrp`)."""
    kind = where(loc, places)
    if kind in ("inside", "workspace", "sink", "temp", "disposable"):
        return None
    level: Level = "high" if recursive else "medium"
    if kind == "unknown":
        return Risk(level, f"{verb} of a path that depends on {loc.unknown}")
    return Risk(level, f"{verb} outside the workspace ({loc.describe()})")
