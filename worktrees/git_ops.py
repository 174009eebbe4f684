"""A card's git worktree: created from its base on `hermes/card-<id>`, with its
dependencies' branches merged in, its results committed, merged back on request.

Everything happens inside the card's own worktree (or a temporary one); the user's
checkout and branch are only ever touched by `merge_card` when the user's checkout is
on the card's base branch and clean, which is what `hermes board merge` asks for.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from git import GitCommandError, Repo

from hermes.errors import HermesError

FALLBACK_NAME = "hermes"
FALLBACK_EMAIL = "hermes@localhost"


class WorkspaceError(HermesError):
    """The card's workspace could not be prepared, committed or merged."""


class MergeConflict(WorkspaceError):
    """Merging a branch hit conflicts; the message names the conflicting paths."""


def branch_for(card_id: int) -> str:
    """The branch a card's work lives on."""
    return f"hermes/card-{card_id}"


def worktree_path(worktrees_dir: Path, repo_root: Path, card_id: int) -> Path:
    """`<worktrees>/<repo-name>-<short hash of the repo path>/card-<id>`."""
    digest = hashlib.sha1(str(repo_root).encode()).hexdigest()[:8]
    return worktrees_dir / f"{repo_root.name}-{digest}" / f"card-{card_id}"


def identity_env(repo: Repo) -> dict[str, str]:
    """A fallback author for commits and merges when the machine has no git identity."""
    try:
        repo.git.var("GIT_COMMITTER_IDENT")
        repo.git.var("GIT_AUTHOR_IDENT")
        return {}
    except GitCommandError:
        return {
            "GIT_AUTHOR_NAME": FALLBACK_NAME,
            "GIT_AUTHOR_EMAIL": FALLBACK_EMAIL,
            "GIT_COMMITTER_NAME": FALLBACK_NAME,
            "GIT_COMMITTER_EMAIL": FALLBACK_EMAIL,
        }


def _open(path: Path) -> Repo:
    try:
        return Repo(path)
    except Exception as exc:  # gitpython raises several types for "not a repository"
        raise WorkspaceError(f"{path} is not a usable git repository ({exc})") from exc


def prepare_worktree(
    repo_root: Path, base: str, card_id: int, path: Path, dependency_branches: list[str]
) -> None:
    """Make `path` the card's worktree on its branch, clean, with its dependencies merged.

    A worktree left by an earlier attempt is reset (its uncommitted changes were that
    attempt's, and it failed); a half-made directory is replaced.
    """
    repo = _open(repo_root)
    branch = branch_for(card_id)
    try:
        if (path / ".git").exists():
            worktree = Repo(path)
            worktree.git.reset("--hard")
            worktree.git.clean("-ffdx")
        else:
            if path.exists():
                shutil.rmtree(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            repo.git.worktree("prune")
            if branch in [head.name for head in repo.heads]:
                repo.git.worktree("add", str(path), branch)
            else:
                repo.git.worktree("add", "-b", branch, str(path), base)
            worktree = Repo(path)
    except GitCommandError as exc:
        raise WorkspaceError(f"cannot prepare the worktree {path}: {_stderr(exc)}") from exc
    env = identity_env(worktree)
    for dependency in dependency_branches:  # fast-forward when it can: a tidier history
        _merge(worktree, dependency, f"hermes: merge {dependency} into {branch}", env, "--ff")


def _merge(
    worktree: Repo, branch: str, message: str, env: dict[str, str], mode: str = "--no-ff"
) -> None:
    """Merge `branch` into the worktree's HEAD; on conflict abort and name the paths."""
    try:
        worktree.git.merge(mode, "--no-edit", "-m", message, branch, env=env)
    except GitCommandError as exc:
        conflicted = worktree.git.diff("--name-only", "--diff-filter=U").split()
        if worktree.git.rev_parse("-q", "--verify", "MERGE_HEAD", with_exceptions=False):
            worktree.git.merge("--abort")
        if conflicted:
            raise MergeConflict(
                f"merge conflict merging {branch}: {', '.join(conflicted)}"
            ) from exc
        raise WorkspaceError(f"cannot merge {branch}: {_stderr(exc)}") from exc


def commit_all(path: Path, message: str) -> str | None:
    """Commit every change in the worktree; returns the commit, or None if nothing changed."""
    worktree = _open(path)
    try:
        worktree.git.add("-A")
        if not worktree.git.status("--porcelain"):
            return None
        worktree.git.commit("-q", "-m", message, env=identity_env(worktree))
        return str(worktree.head.commit.hexsha)
    except GitCommandError as exc:
        raise WorkspaceError(f"cannot commit in {path}: {_stderr(exc)}") from exc


def remove_worktree(repo_root: Path, path: Path) -> None:
    """Remove a card's worktree (its branch stays)."""
    try:
        _open(repo_root).git.worktree("remove", "--force", str(path))
    except (GitCommandError, WorkspaceError):
        shutil.rmtree(path, ignore_errors=True)  # not registered (any more): just files
        if repo_root.exists():
            _open(repo_root).git.worktree("prune")


def prune(repo_root: Path) -> None:
    """Forget worktrees whose directories are gone."""
    _open(repo_root).git.worktree("prune")


def merge_card(repo_root: Path, card_id: int, base: str, message: str) -> str:
    """Merge the card's branch into `base`; returns the resulting commit.

    If the user's checkout is on `base`, the merge happens there and needs it clean;
    otherwise it happens in a temporary worktree of `base`, leaving the checkout alone.
    """
    repo = _open(repo_root)
    branch = branch_for(card_id)
    if branch not in [head.name for head in repo.heads]:
        raise WorkspaceError(f"card {card_id} has no branch {branch} in {repo_root} yet")
    if base not in [head.name for head in repo.heads]:
        raise WorkspaceError(
            f"the base {base!r} is not a branch of {repo_root}; merge it yourself: "
            f"git merge {branch}"
        )
    env = identity_env(repo)
    if not repo.head.is_detached and repo.active_branch.name == base:
        if repo.is_dirty(untracked_files=False):
            raise WorkspaceError(
                f"your checkout {repo_root} has uncommitted changes on {base}; "
                "commit or stash them, then merge again"
            )
        _merge(repo, branch, message, env)
        return str(repo.head.commit.hexsha)
    with tempfile.TemporaryDirectory(prefix="hermes-merge-") as scratch:
        path = Path(scratch) / "base"
        try:
            repo.git.worktree("add", str(path), base)
        except GitCommandError as exc:
            raise WorkspaceError(f"cannot check out {base} to merge into: {_stderr(exc)}") from exc
        try:
            merged = Repo(path)
            _merge(merged, branch, message, env)
            return str(merged.head.commit.hexsha)
        finally:
            repo.git.worktree("remove", "--force", str(path))


def _stderr(exc: GitCommandError) -> str:
    text = str(exc.stderr or exc).strip()
    return " ".join(text.replace("stderr:", "").split())[:500]
