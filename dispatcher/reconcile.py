"""Tidy the worktrees when a dispatcher starts, after whatever crash came before.

A worktree directory that no card records (its card is gone, or a crash came between
creating it and recording it) is removed, unless a live run holds its lock; git's own
records of worktrees whose directories are gone are pruned. Worktrees that cards
record stay: finished cards keep theirs until `hermes board gc`, and a card that will
run again reuses (and resets) its own.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from board import Store
from worktrees import prune
from worktrees.locks import held

_CARD_DIR = re.compile(r"card-\d+")


def reconcile(store: Store, worktrees_dir: Path) -> list[Path]:
    """Remove unrecorded, unlocked worktrees; returns what was removed."""
    recorded = set(store.worktrees())
    removed: list[Path] = []
    repos: set[Path] = set()
    for folder in sorted(worktrees_dir.glob("*/card-*")):
        if not folder.is_dir() or not _CARD_DIR.fullmatch(folder.name):
            continue
        repo = _repo_of(folder)
        if repo is not None:
            repos.add(repo)
        if str(folder) in recorded or held(folder):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    for repo in sorted(repos):
        if repo.is_dir():
            prune(repo)
    return removed


def _repo_of(worktree: Path) -> Path | None:
    """The main repository of a worktree, from its `.git` file (`gitdir: <repo>/.git/...`)."""
    try:
        text = (worktree / ".git").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    gitdir = Path(text.removeprefix("gitdir:").strip())
    return gitdir.parent.parent.parent if gitdir.parent.name == "worktrees" else None
