"""The profile facts a new card needs, without paying for YAML and pydantic every time.

Validating a profile means importing pydantic and building the model: about a tenth of a
second, which is most of `hermes board add`'s budget. So the validated fields are cached
per file, keyed by the file's size, modification time and the hermes version; an edited
file (or a new hermes) is validated again, with the same errors as ever. The cache is
best effort: if it cannot be read or written, the profile is simply validated.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from msgspec import Struct

from hermes import __version__
from hermes.errors import HermesError
from profiles.files import profile_file


class CardDefaults(Struct, frozen=True):
    """What a card takes from its profile when it is created."""

    name: str
    max_attempts: int
    timeout: float | None
    runner: str = "agent"


def card_defaults(
    name: str,
    user_dir: Path | None,
    cache_file: Path,
    defaults: Mapping[str, str] | None = None,
) -> CardDefaults:
    """Validate that profile `name` exists and is valid (with the settings' `defaults`);
    return its card defaults."""
    path = profile_file(name, user_dir)
    fields = profile_fields([path], cache_file, defaults)[path]
    if isinstance(fields, HermesError):
        raise fields
    return CardDefaults(
        path.stem, int(fields["max_attempts"]), fields["timeout"], str(fields["runner"])
    )


def profile_fields(
    paths: Sequence[Path], cache_file: Path, defaults: Mapping[str, str] | None = None
) -> dict[Path, dict[str, Any] | HermesError]:
    """Every field of each profile file in `paths`, validated (with the settings'
    `defaults`), as `Profile.model_dump(mode="json")` gives them, or what is wrong with
    the file: from the cache where the file is unchanged, else validated now."""
    given = [[key, value] for key, value in sorted((defaults or {}).items())]
    cache = _read(cache_file)
    found: dict[Path, dict[str, Any] | HermesError] = {}
    changed = False
    for path in paths:
        stat = path.stat()
        stamp = [__version__, stat.st_mtime_ns, stat.st_size, given]
        entry = cache.get(str(path))
        if isinstance(entry, dict) and entry.get("stamp") == stamp:
            found[path] = entry["fields"]
            continue
        from profiles.loader import read_profile

        try:
            fields = read_profile(path, defaults).model_dump(mode="json")
        except HermesError as exc:
            found[path] = exc
            continue
        cache[str(path)] = {"stamp": stamp, "fields": fields}
        found[path] = fields
        changed = True
    if changed:
        _write(cache_file, cache)
    return found


def _read(cache_file: Path) -> dict[str, Any]:
    try:
        data = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(cache_file: Path, cache: dict[str, Any]) -> None:
    tmp = cache_file.with_name(f".{cache_file.name}.{os.getpid()}")
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(cache), encoding="utf-8")
        tmp.replace(cache_file)  # atomic: concurrent writers never leave half a file
    except OSError:
        tmp.unlink(missing_ok=True)
