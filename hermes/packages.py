"""hermes installs several top-level packages (`board`, `workers`, ...): a start-up check
that each import of them is hermes' own.

The names are generic. Installed beside other distributions in one environment, another
`board` or `workers` could be found first, and hermes would fail in confusing ways far
from the cause. hermes is meant to live in an environment of its own (`uv tool install`,
`pipx install`); this check says so plainly when it does not.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from hermes.errors import HermesError

PACKAGES = ("board", "dispatcher", "workers", "profiles", "gateway", "skills", "worktrees")


class ShadowedPackage(HermesError):
    """Another distribution's package hides one of hermes'."""

    exit_code = 1


def check_packages() -> None:
    """Refuse to run when a hermes package name resolves outside hermes' own tree."""
    root = Path(__file__).resolve().parent.parent
    for name in PACKAGES:
        spec = find_spec(name)
        origin = Path(spec.origin).resolve() if spec and spec.origin else None
        if origin is None or origin.parent != root / name:
            where = origin.parent if origin else "nowhere"
            raise ShadowedPackage(
                f"the package {name!r} that Python finds ({where}) is not hermes' own "
                f"({root / name}): another installed distribution uses the name; install "
                "hermes in an environment of its own: uv tool install hermes-board (or pipx)"
            )
