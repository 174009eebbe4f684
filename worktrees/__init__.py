"""Git for cards: which repository a card works on, and (next) its worktree and branch.

Worktrees, dependency-branch merges, result commits, merge-back and gc will live here.
This package never touches the board.
"""

from worktrees.repo import RepoRef, resolve_repo

__all__ = ["RepoRef", "resolve_repo"]
