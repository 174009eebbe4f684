"""Resolving the repository and base a new card works from.

Runs `git` directly rather than through gitpython: `hermes board add` calls this on every
card and must stay fast, and two `rev-parse` calls are all it needs.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from msgspec import Struct

from hermes.errors import InvalidInput


class RepoRef(Struct, frozen=True):
    """A repository's top level and the ref new work starts from."""

    root: Path
    base: str


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise InvalidInput(
            "git is not installed; install git", cli_hint="or add the card with --no-repo"
        ) from None


def resolve_repo(path: Path, base: str | None, *, explicit: bool) -> RepoRef | None:
    """The repository containing `path` and the base ref (default: its checked-out branch).

    Outside any repository this is None, unless the user named the path with `--repo`,
    which is then an error that says how to fix it.
    """
    if not path.is_dir():
        raise InvalidInput(
            f"{{field}} {path} is not a directory; give a git repository's path", field="repo"
        )
    top = _git(path, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        if explicit:
            raise InvalidInput(
                f"{{field}} {path} is not inside a git repository; run `git init` there",
                field="repo",
                cli_hint="or add the card with --no-repo",
            )
        return None
    root = Path(top.stdout.strip())
    return RepoRef(root, _resolve_base(root, base))


def _resolve_base(root: Path, base: str | None) -> str:
    if base is not None:
        if _git(root, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}").returncode != 0:
            raise InvalidInput(
                f"{{field}} {base!r} is not a branch, tag or commit in {root}; "
                "see `git branch -a` there",
                field="base",
            )
        return base
    head = _git(root, "rev-parse", "--verify", "--quiet", "HEAD")
    if head.returncode != 0:
        raise InvalidInput(
            f"the repository {root} has no commits yet; commit something first",
            cli_hint="or add the card with --no-repo",
        )
    branch = _git(root, "symbolic-ref", "--quiet", "--short", "HEAD")
    return branch.stdout.strip() if branch.returncode == 0 else head.stdout.strip()
