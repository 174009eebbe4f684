"""Rules for git: force pushes, history rewrites, branch deletion, dangerous config.

A normal push, a rebase of the card's own branch, `reset --hard HEAD~1` or `clean -fdx`
in the workspace are everyday work. What needs a human is what other people's clones
will feel: a force or mirror push, rewriting a shared branch (main, master, trunk,
develop, release*, origin/*), deleting branches, and config keys that make git run a
command of the config's choosing. Git's own global options (`-C dir`, `-c k=v`,
`--git-dir`) are read first so they cannot hide a subcommand.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from workers.gate.argv import Options, parse_options, short_flag
from workers.gate.command import Command
from workers.gate.paths import Places, where
from workers.gate.state import Shell
from workers.gate.verdict import Risk
from workers.gate.words import Word, lit, values

Found = Iterator[Risk | None]
#: Global options that take a separate value. `--exec-path` is not one: alone it prints
#: the path and exits, and only `--exec-path=DIR` sets it.
GLOBAL_VALUES = ("git-dir", "work-tree", "namespace", "super-prefix", "config-env")
SHARED = re.compile(
    r"^(?:refs/heads/|refs/remotes/|remotes/)?"
    r"(?:(?:origin|upstream)/.+|(?:[\w.-]+/)?(?:main|master|trunk|develop|release[\w./-]*))$"
)
EXEC_KEYS = re.compile(
    r"^(?:core\.(?:hookspath|fsmonitor|sshcommand|pager|editor|askpass|gitproxy)"
    r"|sequence\.editor|diff\.external|gpg\.(?:[\w-]+\.)?program|credential\.(?:.+\.)?helper"
    r"|include\.path|includeif\..+|alias\..+|pager\..+|.+\.(?:clean|smudge|process|textconv)"
    r"|(?:diff|merge|difftool|mergetool)\..+\.(?:command|driver|cmd)"
    r"|remote\..+\.(?:uploadpack|receivepack)|uploadpack\.packobjectshook"
    r"|(?:web|browser)\..*(?:cmd|browser)|interactive\.difffilter|ssh\.variant)$"
)
CONFIG_SUBCOMMANDS = frozenset(("set", "unset", "get", "list", "edit", "rename-section"))
CONFIG_WRITES = ("--add", "--replace-all", "--unset", "--unset-all", "--rename-section")
DEPLOY_REMOTES = frozenset(("heroku", "dokku", "production", "prod", "live"))


def shared(ref: str) -> bool:
    """Whether a ref names a branch other people build on (`main`, `origin/x`...)."""
    return bool(SHARED.match(re.sub(r"[~^]\d*$", "", ref.lstrip("+"))))


def subcommand(cmd: Command) -> list[Word]:
    """The words from git's subcommand on, its global options (`-C DIR`, `-c K=V`,
    `--git-dir=X`, `--no-pager`, `-P`, `--bare`...) left out: how `git -C . push`
    reads to a person, and to a profile's `git push*` pattern."""
    return parse_options(cmd.args, "Cc", GLOBAL_VALUES).operands


def git(cmd: Command, places: Places) -> Found:
    """`git [global options] SUBCOMMAND ...`, dispatched to the subcommand's rule."""
    opts = parse_options(cmd.args, "Cc", GLOBAL_VALUES)
    head = list(cmd.args[: len(cmd.args) - len(opts.operands)])
    for key in _config_pairs(head):
        if EXEC_KEYS.match(key):
            yield Risk("high", f"git -c {key} makes git run a command")
    if not opts.operands:
        return
    sub = opts.operands[0].value or ""
    rule = SUBCOMMANDS.get(sub)
    if rule is not None:
        yield from rule(opts.operands[1:], _repo(cmd, head, opts, places), places)


def _config_pairs(head: list[Word]) -> Iterator[str]:
    """The keys set with `git -c key=value` before the subcommand."""
    words = values(head)
    for i, text in enumerate(words[:-1]):
        if text == "-c":
            yield words[i + 1].partition("=")[0].lower()


def _repo(cmd: Command, head: list[Word], opts: Options, places: Places) -> Command:
    """The command as run in the repository `-C dir` / `--work-tree` points at."""
    shell = Shell(places, cmd.cwd, links=dict(cmd.links))
    for word in [w for i, w in enumerate(head) if i and head[i - 1].value == "-C"]:
        shell.cd(word)
    tree = opts.get("--work-tree")
    if tree is not None:
        shell.cd(tree)
    return Command(cmd.argv, shell.cwd, cmd.wrappers, cmd.user, cmd.remote, links=cmd.links)


Rule = Callable[[list[Word], Command, Places], Found]


def _push(args: list[Word], cmd: Command, places: Places) -> Found:
    opts = parse_options(args, "o", ("push-option", "repo", "receive-pack", "exec"), True)
    refs = [w.value or "" for w in opts.operands[1:]]
    remote = opts.operands[0].value if opts.operands else None
    force = ("force", "force-with-lease", "force-if-includes")
    if short_flag(args, "f", force) or any(r.startswith("+") for r in refs):
        yield Risk("high", "force push")
    if opts.has("--mirror"):
        yield Risk("high", "mirror push: the remote's branches become copies of these")
    if remote in DEPLOY_REMOTES:
        yield Risk("high", f"deploy (git push {remote})")
    deleted = [r[1:] for r in refs if r.startswith(":") and len(r) > 1]
    if short_flag(args, "d", ("delete",)):
        deleted += refs
    if deleted:
        yield Risk("medium", f"deletes a remote branch ({', '.join(deleted)})")
    if opts.has("--prune"):
        yield Risk("medium", "deletes remote branches (git push --prune)")


def _rebase(args: list[Word], cmd: Command, places: Places) -> Found:
    opts = parse_options(args, "sxX", ("onto", "strategy", "strategy-option", "exec"), True)
    refs = values(opts.operands)
    branch = refs[0] if opts.has("--root") and refs else (refs[1] if len(refs) > 1 else None)
    if branch is not None and shared(branch):
        yield Risk("high", f"history rewrite of a shared branch (git rebase onto {branch})")


def _reset(args: list[Word], cmd: Command, places: Places) -> Found:
    opts = parse_options(args, "", (), interleaved=True)
    if not opts.has("--hard"):
        return
    for ref in values(opts.operands):
        if shared(ref):
            yield Risk("high", f"history rewrite: git reset --hard {ref}")
    if _outside(cmd, places):
        yield Risk("medium", f"git reset --hard outside the workspace ({cmd.cwd.text})")


def _branch(args: list[Word], cmd: Command, places: Places) -> Found:
    opts = parse_options(args, "u", ("set-upstream-to", "contains", "merged", "sort"), True)
    names = values(opts.operands)
    if opts.has("-d", "-D", "--delete"):
        yield Risk("medium", f"deletes a branch ({', '.join(names)})")
    elif opts.has("-f", "--force") and names and shared(names[0]):
        yield Risk("high", f"history rewrite: git branch -f {names[0]}")


def _checkout(args: list[Word], cmd: Command, places: Places) -> Found:
    opts = parse_options(args, "bBcC", ("orphan",), interleaved=True)
    reset = opts.get("-B", "-C", "--force-create")
    if reset is not None and shared(reset.value or ""):
        yield Risk("high", f"history rewrite: resets shared branch {reset.text}")


def _tag(args: list[Word], cmd: Command, places: Places) -> Found:
    opts = parse_options(args, "mFu", ("message", "file", "local-user"), interleaved=True)
    if opts.has("-d", "--delete"):
        yield Risk("medium", f"deletes a tag ({', '.join(w.text for w in opts.operands)})")


def _update_ref(args: list[Word], cmd: Command, places: Places) -> Found:
    opts = parse_options(args, "m", (), interleaved=True)
    ref = opts.operands[0].value or "" if opts.operands else ""
    if opts.has("-d"):
        yield Risk("medium", f"deletes a ref (git update-ref -d {ref})")
    elif shared(ref):
        yield Risk("high", f"history rewrite: git update-ref {ref}")


def _rewrite(args: list[Word], cmd: Command, places: Places) -> Found:
    yield Risk("high", "history rewrite (git filter-branch / filter-repo)")


def _reflog(args: list[Word], cmd: Command, places: Places) -> Found:
    if args and args[0].value in ("expire", "delete"):
        yield Risk("medium", f"drops history from the reflog (git reflog {args[0].text})")


def _clean(args: list[Word], cmd: Command, places: Places) -> Found:
    if short_flag(args, "f", ("force",)) and _outside(cmd, places):
        yield Risk("high", f"git clean outside the workspace ({cmd.cwd.text})")


def _outside(cmd: Command, places: Places) -> bool:
    return where(cmd.locate(lit(".")), places) not in ("inside", "workspace")


def _config(args: list[Word], cmd: Command, places: Places) -> Found:
    opts = parse_options(args, "f", ("file", "blob", "type", "default", "comment", "value"), True)
    operands = values(opts.operands)
    sub = operands[0] if operands and operands[0] in CONFIG_SUBCOMMANDS else None
    rest = operands[1:] if sub else operands
    key = rest[0].lower() if rest else ""
    setting = sub in ("set", "unset") or (
        sub is None and (len(rest) >= 2 or opts.has(*CONFIG_WRITES))
    )
    if setting and EXEC_KEYS.match(key):
        yield Risk("high", f"git config {key} makes git run a command")
    file = opts.get("-f", "--file")
    elsewhere = file is not None and where(cmd.locate(file), places) != "inside"
    if opts.has("--global", "--system") or elsewhere:
        yield Risk("medium", "git config changes configuration outside the workspace")


SUBCOMMANDS: dict[str, Rule] = {
    "push": _push,
    "rebase": _rebase,
    "reset": _reset,
    "branch": _branch,
    "checkout": _checkout,
    "switch": _checkout,
    "tag": _tag,
    "update-ref": _update_ref,
    "filter-branch": _rewrite,
    "filter-repo": _rewrite,
    "reflog": _reflog,
    "clean": _clean,
    "config": _config,
}


def bfg(cmd: Command, places: Places) -> Found:
    """BFG Repo-Cleaner rewrites every commit."""
    yield Risk("high", "history rewrite (bfg)")
