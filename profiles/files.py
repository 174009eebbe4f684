"""Where profiles live: the built-in files shipped here and the user's directory.

Light on purpose (no YAML, no pydantic): listing names and finding a file is all that
most commands need before deciding whether anything must be parsed at all.
"""

from __future__ import annotations

import re
from pathlib import Path

from hermes.errors import NotFound

BUILTIN_DIR = Path(__file__).parent / "builtin"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def profile_files(user_dir: Path | None) -> dict[str, Path]:
    """Name -> file for every profile; a user file overrides the built-in of that name."""
    found = {path.stem: path for path in sorted(BUILTIN_DIR.glob("*.yaml"))}
    if user_dir is not None and user_dir.is_dir():
        for path in sorted(user_dir.iterdir()):
            if path.suffix in (".yaml", ".yml") and _NAME.fullmatch(path.stem):
                found[path.stem] = path
    return found


def profile_file(name: str, user_dir: Path | None) -> Path:
    """The file defining profile `name`, or an error listing the profiles that exist."""
    files = profile_files(user_dir)
    path = files.get(name) if _NAME.fullmatch(name) else None
    if path is None:
        known = ", ".join(sorted(files))
        where = f"{user_dir}/{name}.yaml" if user_dir else f"a {name}.yaml profile file"
        raise NotFound(f"unknown profile {name!r}; use one of: {known} (or create {where})")
    return path


def is_builtin(path: Path) -> bool:
    """Whether a profile file ships with hermes (rather than the user's directory)."""
    return path.parent == BUILTIN_DIR
