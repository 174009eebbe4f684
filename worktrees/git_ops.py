"""A card's git worktree: created from its base on `hermes/card-<id>`, with its
dependencies' branches merged in, its results committed, merged back on request.

Everything happens inside the card's own worktree (or a temporary one); the user's
checkout and branch are only ever touched by `merge_card` when the user's checkout is
on the card's base branch and clean, which is what `hermes board merge` asks for.

Card work can write anything in its worktree, including the `.git` file that tells git
where the repository is. So hermes' own git never discovers a card's repository from the
worktree: it names the git directory itself (found in the user's repository, from the
card's id), rewrites the `.git` file before use, refuses a worktree whose git records
were changed, and runs every git command with hooks, `core.fsmonitor` and commit signing
off. Nothing the work wrote becomes a command git runs on the host.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from git import Git, GitCommandError, Repo

from hermes.errors import HermesError
from worktrees.locks import held

FALLBACK_NAME = "hermes"
FALLBACK_EMAIL = "hermes@localhost"
#: Settings every hermes git command runs with (as `GIT_CONFIG_*` variables, which
#: outrank every config file): nothing configured in a repository runs as a command, and
#: git never descends into a repository nested in a worktree (whose own settings, filters
#: included, card work wrote).
SAFE_CONFIG = {
    "core.hooksPath": "/dev/null",
    "core.fsmonitor": "false",
    "commit.gpgSign": "false",
    "tag.gpgSign": "false",
    "core.sshCommand": "false",
    "diff.ignoreSubmodules": "all",
    "status.submoduleSummary": "false",
    "submodule.recurse": "false",
    "maintenance.auto": "false",
    "gc.auto": "0",
}
SAFE_ENV = {
    "GIT_CONFIG_COUNT": str(len(SAFE_CONFIG)),
    **{f"GIT_CONFIG_KEY_{i}": key for i, key in enumerate(SAFE_CONFIG)},
    **{f"GIT_CONFIG_VALUE_{i}": value for i, value in enumerate(SAFE_CONFIG.values())},
    "GIT_TERMINAL_PROMPT": "0",
}


class WorkspaceError(HermesError):
    """The card's workspace could not be prepared, committed or merged."""


class MergeConflict(WorkspaceError):
    """Merging a branch hit conflicts; the message names the conflicting paths. Trying
    again merges the same branches again: it is permanent."""

    retryable = False


class MissingRepository(WorkspaceError):
    """The card's repository is gone."""

    retryable = False


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
    """The user's repository (never a card's worktree), with hermes' safe settings."""
    try:
        repo = Repo(path)
    except Exception as exc:  # gitpython raises several types for "not a repository"
        raise WorkspaceError(f"{path} is not a usable git repository ({exc})") from exc
    repo.git.update_environment(**SAFE_ENV)
    return repo


def common_git_dir(repo_root: Path) -> Path:
    """The repository's own git directory (`<repo>/.git` for an ordinary checkout)."""
    repo = _open(repo_root)
    return Path(repo.git.rev_parse("--path-format=absolute", "--git-common-dir"))


def _card_git(repo_root: Path, card_id: int, path: Path) -> Git:
    """git for the card's worktree at `path`, pointed at the git directory hermes made
    for it (not at whatever the worktree's `.git` file now says), after checking that
    git's records of the worktree are still the ones git wrote."""
    common = common_git_dir(repo_root)
    gitdir = _worktree_gitdir(common, path)
    if gitdir is None:
        raise WorkspaceError(f"{path} is not a worktree of {repo_root} (git has no record of it)")
    expected_head = f"ref: refs/heads/{branch_for(card_id)}"
    head = _read(gitdir / "HEAD")
    if _read(gitdir / "commondir") not in ("../..", str(common)) or head != expected_head:
        raise WorkspaceError(
            f"the git records of card {card_id}'s worktree were changed during the run "
            f"(HEAD: {head[:80]!r}); hermes commits only on {branch_for(card_id)}, so "
            "nothing was committed"
        )
    marker = path / ".git"
    if marker.is_dir() and not marker.is_symlink():
        shutil.rmtree(marker)
    elif marker.exists() or marker.is_symlink():
        marker.unlink()
    marker.write_text(f"gitdir: {gitdir}\n", encoding="utf-8")
    git = Git(path)
    git.update_environment(**SAFE_ENV, GIT_DIR=str(gitdir), GIT_WORK_TREE=str(path))
    return git


def _worktree_gitdir(common: Path, path: Path) -> Path | None:
    """The per-worktree git directory git keeps for `path` under `<common>/worktrees`."""
    wanted = str(path / ".git")
    records = common / "worktrees"
    if not records.is_dir():
        return None
    for gitdir in sorted(records.iterdir()):
        if _read(gitdir / "gitdir") == wanted:
            return gitdir
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def prepare_worktree(
    repo_root: Path,
    base: str,
    card_id: int,
    path: Path,
    dependency_branches: list[str],
    *,
    keep: bool = False,
) -> None:
    """Make `path` the card's worktree on its branch, clean, with its dependencies merged.

    A worktree left by an earlier attempt is reset (its uncommitted changes were that
    attempt's, and it failed) unless `keep` says the new attempt goes on with them; a
    half-made directory is replaced.
    """
    repo = _open(repo_root)
    branch = branch_for(card_id)
    try:
        worktree = _reuse(repo_root, card_id, path, keep)
        if worktree is None:
            if path.exists():
                shutil.rmtree(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            # `git worktree add` locks the new worktree while it makes it: one killed
            # half-way leaves a lock that `prune` respects and `add` refuses to reuse.
            repo.git.worktree("unlock", str(path), with_exceptions=False)
            repo.git.worktree("prune")
            if branch in [head.name for head in repo.heads]:
                holders = _elsewhere(repo_root, branch, path)
                if holders and not any(map(held, holders)):
                    # earlier attempts' worktrees elsewhere (other hosts', their runs
                    # taken back) still have the branch, and no worker holds any of
                    # them: take the branch over; those hosts tidy their copies when
                    # they start again. While one is held (a frozen worker may wake
                    # in the middle of a git command there and move the branch),
                    # git refuses and the attempt fails, to be retried.
                    repo.git.worktree("add", "--force", str(path), branch)
                else:
                    repo.git.worktree("add", str(path), branch)
            else:
                repo.git.worktree("add", "-b", branch, str(path), base)
            worktree = _card_git(repo_root, card_id, path)
    except GitCommandError as exc:
        raise WorkspaceError(f"cannot prepare the worktree {path}: {_stderr(exc)}") from exc
    env = identity_env(repo)
    for dependency in dependency_branches:  # fast-forward when it can: a tidier history
        try:
            _merge(worktree, dependency, f"hermes: merge {dependency} into {branch}", env, "--ff")
        except MergeConflict as exc:
            raise MergeConflict(
                f"{exc}; the cards it depends on changed the same lines: merge their branches "
                "by hand (or make one depend on the other), then retry this card"
            ) from exc


def _elsewhere(repo_root: Path, branch: str, path: Path) -> list[Path]:
    """The worktrees other than `path` that have `branch` checked out (other hosts'
    copies of the card's worktree, left by earlier attempts)."""
    return [where for where in _checked_out_at(repo_root, branch) if where != path]


def _checked_out_at(repo_root: Path, branch: str) -> list[Path]:
    """Every worktree that has `branch` checked out (more than one after a takeover)."""
    listed = _open(repo_root).git.worktree("list", "--porcelain")
    where: Path | None = None
    found: list[Path] = []
    for line in listed.splitlines():
        if line.startswith("worktree "):
            where = Path(line.removeprefix("worktree "))
        elif line == f"branch refs/heads/{branch}" and where is not None:
            found.append(where)
    return found


def _reuse(repo_root: Path, card_id: int, path: Path, keep: bool) -> Git | None:
    """An earlier attempt's worktree, reset to its branch (unless `keep`); None when there
    is none (or its git records are not trustworthy any more: it is then made anew)."""
    if not path.exists():
        return None
    try:
        worktree = _card_git(repo_root, card_id, path)
    except WorkspaceError:
        # twice: a worktree whose `git worktree add` was killed half-way is still locked
        _open(repo_root).git.worktree(
            "remove", "--force", "--force", str(path), with_exceptions=False
        )
        return None
    _clear_stale_locks(repo_root, worktree, path, branch_for(card_id))
    if not keep:
        worktree.reset("--hard")
        worktree.clean("-ffdx")
    return worktree


#: The lock files git keeps in a worktree's own git folder while a command runs.
_WORKTREE_LOCKS = ("index.lock", "HEAD.lock", "ORIG_HEAD.lock")


def _clear_stale_locks(repo_root: Path, worktree: Git, path: Path, branch: str) -> None:
    """Remove the lock files that a git command killed with an earlier attempt's worker
    left in the card's own worktree and on its branch: git refuses to work while they
    exist, so every later attempt would fail. The caller holds this worktree's lock, so
    no other run's git works in it (and the reclaim that ended the earlier attempt
    killed its worker's process group, git included). The branch's lock is shared with
    the card's worktrees on other hosts: it goes only when no worker holds any of them.
    Locks of the shared repository (`packed-refs`, `config`, other branches) are never
    touched."""
    gitdir = Path(worktree.environment()["GIT_DIR"])  # <common>/worktrees/<name>
    for name in _WORKTREE_LOCKS:
        (gitdir / name).unlink(missing_ok=True)
    ref_lock = gitdir.parent.parent / "refs" / "heads" / f"{branch}.lock"
    if ref_lock.exists() and not any(map(held, _elsewhere(repo_root, branch, path))):
        ref_lock.unlink(missing_ok=True)


def _merge(
    worktree: Git, branch: str, message: str, env: dict[str, str], mode: str = "--no-ff"
) -> None:
    """Merge `branch` into the worktree's HEAD; on conflict abort and name the paths."""
    try:
        worktree.merge(mode, "--no-edit", "-m", message, branch, env=env)
    except GitCommandError as exc:
        conflicted = worktree.diff("--name-only", "--diff-filter=U").split()
        if worktree.rev_parse("-q", "--verify", "MERGE_HEAD", with_exceptions=False):
            worktree.merge("--abort")
        if conflicted:
            raise MergeConflict(
                f"merge conflict merging {branch}: {', '.join(conflicted)}"
            ) from exc
        raise WorkspaceError(f"cannot merge {branch}: {_stderr(exc)}") from exc


def commit_all(path: Path, message: str) -> Committed:
    """Commit every change in a repository of the user's (not a card's worktree: see
    `commit_card`)."""
    repo = _open(path)
    return _commit(repo.git, path, message, identity_env(repo))


def commit_card(repo_root: Path, card_id: int, path: Path, message: str) -> Committed:
    """Commit every change in the card's worktree on its branch. Refuses
    (WorkspaceError) a worktree whose git records the run changed, so a card whose work
    could not be committed never ends `done`."""
    worktree = _card_git(repo_root, card_id, path)
    return _commit(worktree, path, message, identity_env(_open(repo_root)))


@dataclass(frozen=True, slots=True)
class Committed:
    """What a commit of card work did: the commit (None: nothing changed) and the git
    repositories nested in the workspace that were left out of it."""

    sha: str | None
    left_out: tuple[str, ...] = ()


def _commit(git: Git, path: Path, message: str, env: dict[str, str]) -> Committed:
    try:
        git.add("-A")
        nested = _unstage_nested_repositories(git)
        if not git.status("--porcelain", "--ignore-submodules=all"):
            return Committed(None, nested)
        git.commit("-q", "-m", message, env=env)
        return Committed(str(git.rev_parse("HEAD")), nested)
    except GitCommandError as exc:
        raise WorkspaceError(f"cannot commit in {path}: {_stderr(exc)}") from exc


def _unstage_nested_repositories(git: Git) -> tuple[str, ...]:
    """Take repositories nested in the workspace back out of the index: `add` would
    record each as a link to a commit that exists only inside it."""
    added = git.diff(
        "--cached", "--raw", "--no-abbrev", "-z", "--diff-filter=A", "--ignore-submodules=none"
    )
    fields = added.split("\0")
    nested = tuple(
        path for meta, path in zip(fields[::2], fields[1::2], strict=False)
        if meta.split(" ")[1:2] == ["160000"]
    )  # fmt: skip
    if nested:
        git.rm("--cached", "-f", "-q", "--", *nested)
    return nested


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


@dataclass(frozen=True, slots=True)
class Merged:
    """What `merge_card` did: `moved` is False when the base already had every commit
    of the branch (nothing to merge, or merged before); `commit` is the base's tip."""

    moved: bool
    commit: str


def merge_card(repo_root: Path, card_id: int, base: str, message: str) -> Merged:
    """Merge the card's branch into `base`.

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
    if contains(repo_root, base, branch):
        return Merged(False, str(repo.git.rev_parse(base)))
    return Merged(True, _merge_into(repo, repo_root, base, branch, message))


def contains(repo_root: Path, base: str, branch: str) -> bool:
    """Whether `base` already has every commit of `branch`."""
    git = _open(repo_root).git
    status, _out, _err = git.merge_base(
        "--is-ancestor", branch, base, with_exceptions=False, with_extended_output=True
    )
    return bool(status == 0)


def card_diff(repo_root: Path, base: str, branch: str, *, stat: bool = False) -> str:
    """What the card's branch changed since it left its base (`git diff base...branch`)."""
    git = _open(repo_root).git
    try:
        args = ["--stat"] if stat else []
        return str(git.diff(*args, f"{base}...{branch}", "--"))
    except GitCommandError as exc:
        raise WorkspaceError(f"cannot diff {branch} against {base}: {_stderr(exc)}") from exc


def checked_worktree(repo_root: Path, card_id: int, path: Path) -> None:
    """Make sure the card's worktree points at its own git records again (card work may
    have rewritten its `.git`) before a person works in it."""
    _card_git(repo_root, card_id, path)


def delete_branch(repo_root: Path, branch: str) -> None:
    """Delete a card's branch (the caller checked it is merged)."""
    try:
        _open(repo_root).git.branch("-D", "-q", branch)
    except GitCommandError as exc:
        raise WorkspaceError(f"cannot delete {branch}: {_stderr(exc)}") from exc


def _merge_into(repo: Repo, repo_root: Path, base: str, branch: str, message: str) -> str:
    env = identity_env(repo)
    if not repo.head.is_detached and repo.active_branch.name == base:
        if repo.is_dirty(untracked_files=False):
            raise WorkspaceError(
                f"your checkout {repo_root} has uncommitted changes on {base}; "
                "commit or stash them, then merge again"
            )
        _merge(repo.git, branch, message, env)
        return str(repo.head.commit.hexsha)
    with tempfile.TemporaryDirectory(prefix="hermes-merge-") as scratch:
        path = Path(scratch) / "base"
        try:
            repo.git.worktree("add", str(path), base)
        except GitCommandError as exc:
            raise WorkspaceError(f"cannot check out {base} to merge into: {_stderr(exc)}") from exc
        try:
            merged = _open(path)
            _merge(merged.git, branch, message, env)
            return str(merged.head.commit.hexsha)
        finally:
            repo.git.worktree("remove", "--force", str(path))


def _stderr(exc: GitCommandError) -> str:
    text = str(exc.stderr or exc).strip()
    return " ".join(text.replace("stderr:", "").split())[:500]
