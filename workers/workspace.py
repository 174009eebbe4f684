"""The directory a run works in: the card's git worktree, or a scratch directory.

A worktree is locked (an exclusive `flock`) for the whole run, so even a zombie of an
earlier attempt that is somehow still alive can never share it with the new run; the
lock dies with its process.
"""

from __future__ import annotations

import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path

from board import Card, Store
from hermes.paths import workspaces_dir, worktrees_dir
from worktrees import (
    Committed,
    MissingRepository,
    WorkspaceError,
    branch_for,
    commit_card,
    common_git_dir,
    prepare_worktree,
    worktree_path,
)
from worktrees.locks import lock_file

LOCK_WAIT = 5.0


@dataclass(frozen=True, slots=True)
class Workspace:
    """Where a run works; `branch` and `repo` are None for a scratch directory."""

    path: Path
    branch: str | None
    repo: Path | None
    lock_fd: int


def location(card: Card) -> tuple[Path, str | None]:
    """Where the card works and on which branch (None: a scratch directory)."""
    if card.repo is None:
        return workspaces_dir() / f"card-{card.id}", None
    return worktree_path(worktrees_dir(), Path(card.repo), card.id), branch_for(card.id)


def prepare(card: Card, store: Store, *, keep: bool = False) -> Workspace:
    """Lock and prepare the card's workspace (merging its dependencies' branches in);
    `keep` leaves an earlier attempt's changes in place (a resumed conversation)."""
    path, branch = location(card)
    if card.repo is None:
        path.mkdir(parents=True, exist_ok=True)
        return Workspace(path, None, None, _lock(lock_file(path)))
    repo = Path(card.repo)
    if not repo.is_dir():
        raise MissingRepository(
            f"the card's repository {repo} no longer exists; restore it, or cancel the card"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_fd = _lock(lock_file(path))
    upstream = [store.card(dep) for dep in card.depends_on]
    branches = [dep.branch for dep in upstream if dep.branch and dep.repo == card.repo]
    try:
        prepare_worktree(repo, card.base or "HEAD", card.id, path, branches, keep=keep)
    except BaseException:
        os.close(lock_fd)
        raise
    return Workspace(path, branch, repo, lock_fd)


def commit(workspace: Workspace, card: Card) -> Committed | None:
    """Commit the run's changes on the card branch; None for a scratch directory."""
    if workspace.repo is None:
        return None
    message = f"hermes: card {card.id}: {card.title.splitlines()[0]}"
    return commit_card(workspace.repo, card.id, workspace.path, message)


def git_dir(workspace: Workspace) -> Path:
    """The card's repository's own git directory (a sandbox shows it read-only)."""
    assert workspace.repo is not None
    return common_git_dir(workspace.repo)


def _lock(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise WorkspaceError(
                    f"the workspace {path.with_suffix('')} is in use by another live run"
                ) from None
            time.sleep(0.05)
