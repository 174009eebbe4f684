"""Git for cards: which repository a card works on, its worktree and branch, merges.

Worktrees, dependency-branch merges, result commits, merge-back and removal use
gitpython, which takes a tenth of a second to import; they load on first use so that
`hermes board add` (which only needs `resolve_repo`) stays fast. This package never
touches the board.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hermes.lazy import lazy_attributes
from worktrees.repo import RepoRef, resolve_repo

if TYPE_CHECKING:
    from worktrees.git_ops import (
        SAFE_ENV,
        Committed,
        MergeConflict,
        Merged,
        MissingRepository,
        WorkspaceError,
        branch_for,
        card_diff,
        checked_worktree,
        commit_all,
        commit_card,
        common_git_dir,
        contains,
        delete_branch,
        merge_card,
        prepare_worktree,
        prune,
        remove_worktree,
        worktree_path,
    )

__getattr__ = lazy_attributes(
    __name__,
    dict.fromkeys(
        [
            "SAFE_ENV",
            "Committed",
            "Merged",
            "MergeConflict",
            "MissingRepository",
            "WorkspaceError",
            "branch_for",
            "card_diff",
            "checked_worktree",
            "commit_all",
            "commit_card",
            "common_git_dir",
            "contains",
            "delete_branch",
            "merge_card",
            "prepare_worktree",
            "prune",
            "remove_worktree",
            "worktree_path",
        ],
        "worktrees.git_ops",
    ),
)

__all__ = [
    "SAFE_ENV",
    "Committed",
    "MergeConflict",
    "Merged",
    "MissingRepository",
    "RepoRef",
    "WorkspaceError",
    "branch_for",
    "card_diff",
    "checked_worktree",
    "commit_all",
    "commit_card",
    "common_git_dir",
    "contains",
    "delete_branch",
    "merge_card",
    "prepare_worktree",
    "prune",
    "remove_worktree",
    "resolve_repo",
    "worktree_path",
]
