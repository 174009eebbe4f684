"""Profiles: named ways of working a card (which runner, which limits, which model).

Built-in profiles ship as YAML files in `profiles/builtin/`; a user's
`$HERMES_HOME/profiles/<name>.yaml` adds a profile or overrides a built-in one.

The model and loader need pydantic and YAML, which are slow to import, so they are
loaded on first use of `Profile`, `load_profile` or `list_profiles`; `card_defaults`
answers `hermes board add` from a cache without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hermes.lazy import lazy_attributes
from profiles.cache import CardDefaults, card_defaults
from profiles.files import BUILTIN_DIR, is_builtin, profile_file, profile_files

if TYPE_CHECKING:
    from profiles.loader import list_profiles, load_profile, read_profile
    from profiles.model import Profile

__getattr__ = lazy_attributes(
    __name__,
    {
        "Profile": "profiles.model",
        "list_profiles": "profiles.loader",
        "load_profile": "profiles.loader",
        "read_profile": "profiles.loader",
    },
)


__all__ = [
    "BUILTIN_DIR",
    "CardDefaults",
    "Profile",
    "card_defaults",
    "is_builtin",
    "list_profiles",
    "load_profile",
    "profile_file",
    "profile_files",
    "read_profile",
]
