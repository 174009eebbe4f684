"""Cards in real git repositories: worktrees, merged dependencies, commits, merge-back,
gc and reconcile, with the user's own checkout never touched."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from board import open_store
from tests.conftest import Cli
from tests.helpers.processes import FAST, finish, git, local_shell, make_repo, start_dispatcher
from worktrees.git_ops import WorkspaceError, prepare_worktree


def add_in(cli: Cli, repo: Path, title: str, body: str, *extra: str, profile: str = "shell") -> int:
    result = cli(
        "board", "add", title, "--repo", str(repo), "--profile", profile, "--body", body, *extra
    )
    assert result.code == 0, result.err
    return int(result.out)


def run_until_idle(env: dict[str, str] | None = None) -> str:
    code, out = finish(start_dispatcher("--until-idle", *FAST, env=env))
    assert code == 0, out
    return out


def checkout_state(repo: Path) -> tuple[str, str, str, list[str]]:
    """Everything about the user's checkout a card must not change."""
    files = sorted(p.name for p in repo.iterdir() if p.name != ".git")
    return (
        git(repo, "rev-parse", "HEAD"),
        git(repo, "branch", "--show-current"),
        git(repo, "status", "--porcelain"),
        files,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "project", {"README.md": "# project\n"})


def test_a_diamond_join_sees_both_sides_and_the_checkout_is_untouched(
    cli: Cli, repo: Path, db_url: str, hermes_home: Path
) -> None:
    before = checkout_state(repo)
    a = add_in(cli, repo, "base", "echo a > a.txt")
    b = add_in(cli, repo, "left", "test -f a.txt; echo b > b.txt", "--after", str(a))
    c = add_in(cli, repo, "right", "test -f a.txt; echo c > c.txt", "--after", str(a))
    d = add_in(
        cli, repo, "join", "cat a.txt b.txt c.txt > all.txt", "--after", str(b), "--after", str(c)
    )
    run_until_idle()
    with open_store(db_url) as store:
        cards = {n: store.card(n) for n in (a, b, c, d)}
    assert {card.status for card in cards.values()} == {"done"}
    assert git(repo, "show", f"hermes/card-{d}:all.txt") == "a\nb\nc"
    assert git(repo, "log", "-1", "--format=%s", f"hermes/card-{d}") == f"hermes: card {d}: join"
    join = cards[d]
    assert join.branch == f"hermes/card-{d}"
    assert join.worktree is not None and Path(join.worktree).name == f"card-{d}"
    assert Path(join.worktree).parent.parent == hermes_home / "worktrees"
    assert Path(join.worktree).parent.name.startswith("project-")
    assert (Path(join.worktree) / "all.txt").read_text() == "a\nb\nc\n"
    assert checkout_state(repo) == before


def test_a_merge_conflict_fails_the_attempt_naming_the_paths(
    cli: Cli, repo: Path, db_url: str
) -> None:
    a = add_in(cli, repo, "base", "echo base > shared.txt")
    b = add_in(cli, repo, "left", "echo left > shared.txt", "--after", str(a))
    c = add_in(cli, repo, "right", "echo right > shared.txt", "--after", str(a))
    d = add_in(
        cli, repo, "join", "true", "--after", str(b), "--after", str(c), "--max-attempts", "1"
    )
    run_until_idle()
    with open_store(db_url) as store:
        detail = store.detail(d)
    assert detail.card.status == "failed"
    assert (detail.runs[0].error or "").startswith(
        f"merge conflict merging hermes/card-{c}: shared.txt; the cards it depends on changed"
    )
    assert detail.card.worktree is not None  # recorded, so the user can look at it
    assert git(Path(detail.card.worktree), "status", "--porcelain") == ""  # merge aborted


def test_commits_work_on_a_machine_without_a_git_identity(
    cli: Cli, repo: Path, tmp_path: Path, db_url: str
) -> None:
    card = add_in(cli, repo, "anonymous", "echo x > x.txt")
    home = tmp_path / "empty-home"
    home.mkdir()
    bare = {
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "EMAIL": "",
        "GIT_AUTHOR_NAME": "",
        "GIT_AUTHOR_EMAIL": "",
        "GIT_COMMITTER_NAME": "",
        "GIT_COMMITTER_EMAIL": "",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | bare
    check = subprocess.run(
        ["git", "var", "GIT_COMMITTER_IDENT"], cwd=repo, env=env, capture_output=True, text=True
    )
    assert check.returncode != 0  # really no identity here
    run_until_idle(env=bare)
    with open_store(db_url) as store:
        assert store.card(card).status == "done"
    author = git(repo, "log", "-1", "--format=%an <%ae>", f"hermes/card-{card}")
    assert author == "hermes <hermes@localhost>"


def test_a_retry_starts_from_a_clean_worktree(
    cli: Cli, repo: Path, tmp_path: Path, db_url: str, hermes_home: Path
) -> None:
    mark = tmp_path / "tried-once"
    body = (
        f"if [ ! -e {mark} ]; then touch {mark}; echo junk > junk.txt; exit 1; fi; "
        "test ! -e junk.txt; echo clean > clean.txt"
    )
    profile = local_shell(hermes_home)  # the mark outside the workspace must persist
    card = add_in(cli, repo, "second time lucky", body, profile=profile)
    run_until_idle()
    with open_store(db_url) as store:
        assert [r.outcome for r in store.detail(card).runs] == ["failed", "done"]
    files = git(repo, "ls-tree", "--name-only", f"hermes/card-{card}").split()
    assert "clean.txt" in files and "junk.txt" not in files


def test_merge_into_the_checked_out_base(cli: Cli, repo: Path, db_url: str) -> None:
    card = add_in(cli, repo, "feature", "echo feature > feature.txt")
    run_until_idle()
    merged = cli("board", "merge", str(card))
    assert merged.code == 0, merged.err
    assert merged.out.startswith(f"merged hermes/card-{card} into main (")
    assert (repo / "feature.txt").read_text() == "feature\n"
    assert git(repo, "status", "--porcelain") == ""
    with open_store(db_url) as store:
        event = store.detail(card).events[-1]
    assert event.kind == "merged" and event.data["into"] == "main"


def test_merge_refuses_a_dirty_checkout_and_changes_nothing(cli: Cli, repo: Path) -> None:
    card = add_in(cli, repo, "feature", "echo feature > feature.txt")
    run_until_idle()
    (repo / "README.md").write_text("# edited, not committed\n")
    head = git(repo, "rev-parse", "HEAD")
    refused = cli("board", "merge", str(card))
    assert refused.code == 2
    assert "has uncommitted changes on main; commit or stash them" in refused.err
    assert git(repo, "rev-parse", "HEAD") == head
    assert (repo / "README.md").read_text() == "# edited, not committed\n"


def test_merge_refuses_a_conflict_and_leaves_the_base_as_it_was(cli: Cli, repo: Path) -> None:
    card = add_in(cli, repo, "rewrite readme", "echo ours > README.md")
    run_until_idle()
    (repo / "README.md").write_text("theirs\n")
    git(repo, "commit", "-qam", "meanwhile on main")
    head = git(repo, "rev-parse", "HEAD")
    refused = cli("board", "merge", str(card))
    assert refused.code == 2
    assert f"merge conflict merging hermes/card-{card}: README.md" in refused.err
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == ""


def test_merge_while_on_another_branch_leaves_the_checkout_alone(cli: Cli, repo: Path) -> None:
    card = add_in(cli, repo, "feature", "echo feature > feature.txt")
    run_until_idle()
    git(repo, "checkout", "-qb", "my-work")
    before = checkout_state(repo)
    assert cli("board", "merge", str(card)).code == 0
    assert checkout_state(repo) == before
    assert git(repo, "show", "main:feature.txt") == "feature"


def test_merge_refuses_cards_that_cannot_be_merged(cli: Cli, repo: Path) -> None:
    waiting = add_in(cli, repo, "not yet", "true", "--backlog")
    refused = cli("board", "merge", str(waiting))
    assert refused.code == 2 and "merge it once it is done" in refused.err
    scratch = cli("board", "add", "no repo", "--no-repo").out.strip()
    assert "has no repository" in cli("board", "merge", scratch).err


def test_gc_removes_finished_worktrees_and_keeps_branches(
    cli: Cli, repo: Path, db_url: str
) -> None:
    done = add_in(cli, repo, "finished", "echo x > x.txt")
    scratch = int(
        cli("board", "add", "scratch", "--no-repo", "--profile", "shell", "--body", "true").out
    )
    run_until_idle()
    with open_store(db_url) as store:
        paths = [Path(store.card(c).worktree or "") for c in (done, scratch)]
    assert all(p.is_dir() for p in paths)
    result = cli("board", "gc")
    assert (
        result.code == 0
        and result.out == "removed 2 workspaces of finished cards; their branches stay\n"
    )
    assert not any(p.exists() for p in paths)
    assert git(repo, "branch", "--list", f"hermes/card-{done}") != ""
    assert f"card-{done}" not in git(repo, "worktree", "list")
    with open_store(db_url) as store:
        assert store.card(done).worktree is None
        assert store.detail(done).events[-1].kind == "worktree_removed"
    assert cli("board", "gc").out == "removed 0 workspaces of finished cards; their branches stay\n"


def test_a_dispatcher_removes_stray_worktrees_left_by_a_crash(
    cli: Cli, repo: Path, hermes_home: Path
) -> None:
    card = add_in(cli, repo, "real", "true")
    run_until_idle()
    from worktrees import worktree_path

    stray = worktree_path(hermes_home / "worktrees", repo, 99)
    git(repo, "worktree", "add", "-q", "-b", "stray", str(stray))
    out = run_until_idle()
    assert f"removed stale worktree {stray}" in out
    assert not stray.exists()
    listed = git(repo, "worktree", "list")
    assert "card-99" not in listed and f"card-{card}" in listed


@pytest.mark.parametrize("left", ["nothing", "a half-made folder"])
def test_a_worktree_whose_git_add_was_killed_is_made_anew(
    repo: Path, tmp_path: Path, left: str
) -> None:
    """`git worktree add` locks the worktree while it works: a worker killed then leaves
    a locked registration (and maybe part of the folder), which must not fail every
    later attempt of the card."""
    path = tmp_path / "worktrees" / "card-1"
    git(repo, "worktree", "add", "-b", "hermes/card-1", str(path))
    git(repo, "worktree", "lock", "--reason", "initializing", str(path))
    shutil.rmtree(path)
    if left == "a half-made folder":
        path.mkdir()
        (path / "partial").write_text("x")
    prepare_worktree(repo, git(repo, "branch", "--show-current"), 1, path, [])
    assert (path / "README.md").read_text() == "# project\n"
    assert git(path, "branch", "--show-current") == "hermes/card-1"


def test_locks_left_by_a_git_killed_mid_command_do_not_fail_the_next_attempt(
    repo: Path, tmp_path: Path
) -> None:
    """A worker killed in the middle of `git commit` (or reset, or merge) leaves git's
    lock files in the card's worktree and on its branch; git refuses to work while they
    exist, so every later attempt of the card failed until it ran out of attempts."""
    path = tmp_path / "worktrees" / "card-1"
    base = git(repo, "branch", "--show-current")
    prepare_worktree(repo, base, 1, path, [])
    gitdir = Path(git(path, "rev-parse", "--absolute-git-dir"))
    # another host's worktree of the card, its worker alive (frozen mid-commit, say):
    # the branch's lock may be its, and stays
    elsewhere = tmp_path / "other-host" / "card-1"
    git(repo, "worktree", "add", "--force", str(elsewhere), "hermes/card-1")
    held_there = _hold(elsewhere)
    (path / "half.txt").write_text("the killed attempt's\n")
    ref_lock = repo / ".git/refs/heads/hermes/card-1.lock"
    for stale in (gitdir / "index.lock", ref_lock):
        stale.write_text("")
    with pytest.raises(WorkspaceError, match=r"card-1\.lock"):  # to be retried
        prepare_worktree(repo, base, 1, path, [])
    assert ref_lock.exists() and not (gitdir / "index.lock").exists()
    os.close(held_there)  # that worker is gone: the lock is stale
    prepare_worktree(repo, base, 1, path, [])
    assert not ref_lock.exists()
    assert not (path / "half.txt").exists()  # reset: the new attempt starts clean
    (path / "done.txt").write_text("done\n")
    git(path, "add", "done.txt")
    git(path, "commit", "-m", "the next attempt")
    assert git(repo, "ls-tree", "--name-only", "hermes/card-1").split() == ["README.md", "done.txt"]


def _hold(worktree: Path) -> int:
    """Hold a worktree's lock (`card-N.lock` beside it) as a live worker does."""
    import fcntl

    fd = os.open(worktree.with_name(f"{worktree.name}.lock"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_another_host_takes_a_branch_over_only_when_no_worker_holds_it(
    repo: Path, tmp_path: Path
) -> None:
    """Hosts share the repository, each with worktrees of its own. A card retried on
    another host takes its branch over from worktrees no worker holds; while any worker
    holds one (a frozen host's: it may wake in the middle of a git command there and
    move the branch back under the new attempt's commit), the attempt fails instead."""
    from worktrees.git_ops import WorkspaceError

    base = git(repo, "branch", "--show-current")
    first, second, third = (tmp_path / host / "card-1" for host in ("a", "b", "c"))
    prepare_worktree(repo, base, 1, first, [])  # host a; its worker died
    prepare_worktree(repo, base, 1, second, [])  # host b took the branch over
    assert git(second, "branch", "--show-current") == "hermes/card-1"
    held = _hold(second)  # host b's worker is frozen, not dead
    try:
        with pytest.raises(WorkspaceError, match="already checked out"):
            prepare_worktree(repo, base, 1, third, [])  # host c must not use it
        assert not third.exists()
    finally:
        os.close(held)
    prepare_worktree(repo, base, 1, third, [])  # the frozen worker is gone: take over
    assert git(third, "branch", "--show-current") == "hermes/card-1"
