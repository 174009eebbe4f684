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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hermes import __version__
from profiles.files import profile_file


@dataclass(frozen=True, slots=True)
class CardDefaults:
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
    stat = path.stat()
    given = [[key, value] for key, value in sorted((defaults or {}).items())]
    stamp = [__version__, stat.st_mtime_ns, stat.st_size, given]
    cache = _read(cache_file)
    entry = cache.get(str(path))
    if isinstance(entry, dict) and entry.get("stamp") == stamp:
        fields = entry["fields"]
    else:
        from profiles.loader import read_profile

        fields = read_profile(path, defaults).model_dump(mode="json")
        cache[str(path)] = {"stamp": stamp, "fields": fields}
        _write(cache_file, cache)
    return CardDefaults(
        path.stem, int(fields["max_attempts"]), fields["timeout"], str(fields["runner"])
    )


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
