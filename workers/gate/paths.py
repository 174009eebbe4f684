"""Where a path in a command lands on disk, and what kind of place that is.

Rules must judge the path the kernel will touch, not the text the agent typed:
`/tmp/../home/user/project` is the user's project, `$PWD/..` is the workspace's parent,
and a symlink inside the workspace may point anywhere. So paths are resolved the way the
kernel does (`..` after following symlinks, via realpath) against the directory the
command runs in, and only then compared with the workspace, HOME and the temp dirs.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from workers.gate.words import Part, Word, join

Kind = Literal[
    "unknown",  # depends on a run-time value: never assumed safe
    "inside",  # strictly inside the workspace
    "workspace",  # the workspace directory itself
    "encloses",  # a parent of the workspace or of HOME (or a glob that may match one)
    "sink",  # /dev/null, /dev/stderr, a file descriptor
    "device",  # a disk or other device node
    "temp",  # under a temp directory, away from the workspace and HOME
    "disposable",  # a cache or log location
    "dotfile",  # under HOME, in a dot-directory or a dotfile
    "home",  # elsewhere under HOME
    "system",  # system directories: /etc, /usr, /var, /srv...
    "outside",  # anywhere else
]

TEMP_ROOTS = ("/tmp", "/var/tmp", "/dev/shm")
SINKS = frozenset(
    (
        "/dev/null",
        "/dev/stdout",
        "/dev/stderr",
        "/dev/stdin",
        "/dev/tty",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
    )
)
SINK_DIRS = ("/dev/fd/", "/proc/self/fd/", "/dev/pts/")
SYSTEM_ROOTS = (
    "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot",
    "/opt", "/var", "/srv", "/root", "/sys", "/proc", "/dev", "/snap", "/nix", "/mnt",
    "/media", "/run", "/System", "/Library", "/Applications", "/private", "/Volumes",
)  # fmt: skip
CACHE_DIRS = frozenset(
    ("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".cache", "log", "logs")
)
LOG_FILE = re.compile(r"\.log(?:\.\d+)?(?:\.gz)?$")
#: Where the system keeps its logs: one log is cleanup, all of them is evidence lost.
LOG_ROOTS = ("/var/log",)

#: Links a command line made before a command runs: the link's path -> its resolved
#: target (exact), or an unknown word when the target is only known at run time.
Links = Mapping[str, Word]


@dataclass(frozen=True, slots=True)
class Places:
    """The fixed points paths are judged against, all resolved: workspace, HOME, temp."""

    workspace: str
    home: str | None
    temps: tuple[str, ...]

    @staticmethod
    def of(workspace: Path, env: Mapping[str, str]) -> Places:
        """The places for a command run in `workspace` with `env`."""
        home = env.get("HOME")
        temps = [*TEMP_ROOTS, *([env["TMPDIR"]] if env.get("TMPDIR") else [])]
        root = os.path.realpath(workspace)
        home_dir = os.path.realpath(home) if home else None
        resolved = [os.path.realpath(t) for t in temps]
        kept = tuple(dict.fromkeys(t for t in resolved if t not in (root, home_dir)))
        return Places(workspace=root, home=home_dir, temps=kept)

    @property
    def anchors(self) -> tuple[str, ...]:
        """Directories whose removal is never routine: the workspace and HOME."""
        return (self.workspace,) + ((self.home,) if self.home else ())


@dataclass(frozen=True, slots=True)
class Loc:
    """A path as it resolves: the exact directory or file, and a glob pattern below it.

    `path` is None when the path depends on a run-time value (`unknown` says which).
    `pattern` is empty for an exact path; otherwise the matches are `path/pattern`.
    """

    shown: str
    path: str | None
    pattern: str = ""
    unknown: str | None = None

    @property
    def full(self) -> str:
        """The resolved path, with the glob pattern if there is one."""
        if self.path is None:
            return self.shown
        return f"{self.path.rstrip('/')}/{self.pattern}" if self.pattern else self.path

    def describe(self) -> str:
        """The path as written, and where it really lands when that differs."""
        if self.path is None or (self.shown.rstrip("/") or "/") in (self.full, self.path):
            return self.shown
        return f"{self.shown} -> {self.full}"


def under(path: str, root: str) -> bool:
    """Whether `path` is strictly below `root` (both absolute and normalized)."""
    return path != root and (root == "/" or path.startswith(root.rstrip("/") + "/"))


def absolute(word: Word, cwd: Word) -> Word:
    """The word as an absolute path: relative paths are relative to the command's cwd."""
    if word.known.startswith("/"):
        return word
    return join([*cwd.parts, Part("/"), *word.parts])


def locate(word: Word, cwd: Word, follow_last: bool = True, links: Links | None = None) -> Loc:
    """Resolve `word` (run in `cwd`) as the kernel would.

    `follow_last=False` resolves every directory but not the last component, as `rm`,
    `unlink` and `mv` do: they act on a symlink itself, not on what it points to.
    `links` are the links the command line made before (not on disk yet): they are
    followed like the disk's own.
    """
    shown = word.written or word.text
    if word.unknown is not None:
        return Loc(shown, None, unknown=word.unknown)
    full = absolute(word, cwd)
    if full.unknown is not None:
        return Loc(shown, None, unknown=full.unknown)
    if full.exact:
        return _found(shown, _resolve(full.text, follow_last, links or {}))
    known = full.known
    cut = known.rfind("/")
    pattern = full.text[cut + 1 :]
    if ".." in pattern.split("/"):
        return Loc(shown, None, unknown=shown)
    return _found(shown, _resolve(known[: cut + 1] or "/", True, links or {}), pattern)


def _found(shown: str, resolved: str | Word, pattern: str = "") -> Loc:
    """A Loc for a resolved path, or an unknown one when a link's target is unknown."""
    if isinstance(resolved, Word):
        return Loc(shown, None, unknown=resolved.unknown or resolved.text)
    return Loc(shown, resolved, pattern)


def _resolve(path: str, follow_last: bool, links: Links) -> str | Word:
    """realpath, optionally leaving the last component (a symlink stays itself).

    Device paths are only normalized: `/dev/stdout` and `/dev/fd/63` are links into
    /proc that would resolve to whatever this process has open, not what the command
    will have open.
    """
    if os.path.normpath(path).startswith("/dev/"):
        return os.path.normpath(path)
    if links:
        return _through(path, follow_last, links)
    norm = path.rstrip("/") or "/"
    head, tail = os.path.split(norm)
    if follow_last or path.endswith("/") or tail in ("", ".", ".."):
        return os.path.realpath(path)
    return os.path.join(os.path.realpath(head), tail)


def _through(path: str, follow_last: bool, links: Links) -> str | Word:
    """Resolve one component at a time, as the kernel walks a path: a link made earlier
    on the line is followed like one on disk (`..` after it climbs from its target).
    A link whose target is unknown makes the path unknown (its target, a Word)."""
    names = [n for n in path.split("/") if n and n != "."]
    follow_end = follow_last or path.endswith("/")
    cur = "/"
    for i, name in enumerate(names):
        if name == "..":
            cur = os.path.dirname(cur)
            continue
        step = os.path.join(cur, name)
        follow = follow_end or i < len(names) - 1
        target = links.get(step) if follow else None
        if target is not None and target.value is None:
            return target
        if target is not None:
            cur = target.text
        else:
            cur = os.path.realpath(step) if follow else step
    return cur


def where(loc: Loc, places: Places) -> Kind:
    """What kind of place `loc` is, the workspace and HOME checked before everything."""
    if loc.path is None:
        return "unknown"
    if loc.pattern and _glob_encloses(loc, places):
        return "encloses"
    if not loc.pattern and loc.path == places.workspace:
        return "workspace"
    if under(loc.full, places.workspace):
        return "inside"
    if not loc.pattern and any(under(a, loc.path) for a in places.anchors):
        return "encloses"
    return _elsewhere(loc.full, places)


def _elsewhere(full: str, places: Places) -> Kind:
    """The kind of a path outside the workspace that contains neither it nor HOME."""
    if full in SINKS or full.startswith(SINK_DIRS):
        return "sink"
    if is_temp(full, places):
        return "temp"
    if full.startswith("/dev/"):
        return "device"
    if is_disposable(full, places):
        return "disposable"
    if places.home and under(full, places.home):
        first = full[len(places.home) :].lstrip("/").split("/")[0]
        return "dotfile" if first.startswith(".") else "home"
    if any(full == r or under(full, r) for r in SYSTEM_ROOTS):
        return "system"
    return "outside"


def _glob_encloses(loc: Loc, places: Places) -> bool:
    """Whether a glob's matches may include the workspace, HOME or a parent of them."""
    assert loc.path is not None
    first = loc.pattern.split("/")[0]
    for anchor in places.anchors:
        if under(anchor, loc.path):
            child = anchor[len(loc.path.rstrip("/")) + 1 :].split("/")[0]
            if fnmatch.fnmatchcase(child, first):
                return True
    return False


def is_temp(full: str, places: Places) -> bool:
    """Whether `full` is scratch space under a temp dir.

    When the workspace or HOME itself lives under that temp dir (tests, throwaway
    checkouts), only paths in a different top-level entry of it count as scratch:
    `../sibling` of a workspace in /tmp is somebody's work, not a temporary file.
    """
    for root in places.temps:
        if not under(full, root):
            continue
        top = full[len(root.rstrip("/")) + 1 :].split("/")[0]
        neighbours = [a for a in places.anchors if under(a, root)]
        if all(a[len(root.rstrip("/")) + 1 :].split("/")[0] != top for a in neighbours):
            return True
    return False


def is_disposable(full: str, places: Places) -> bool:
    """Caches and logs: a cache/log directory on the way, or a `*.log` file."""
    parts = full.split("/")
    if places.home and full.startswith(places.home.rstrip("/") + "/.cache"):
        return True
    return bool(CACHE_DIRS.intersection(parts[1:])) or bool(LOG_FILE.search(parts[-1]))


def shared_root(loc: Loc, places: Places) -> str | None:
    """The temp or log root `loc` empties (the root itself, or a glob matching every
    entry in it: `/tmp/*`, `/var/log/.*`), if any.

    One temp file or one log is cleanup; all of /tmp is other programs' sockets, locks
    and work, and all of /var/log is the system's record of what happened.
    """
    if loc.path is None:
        return None
    pattern = loc.pattern.rstrip("/")
    if "/" in pattern or pattern.strip("*?."):
        return None
    roots = {*places.temps, *(os.path.realpath(r) for r in LOG_ROOTS)}
    return loc.path if loc.path in roots else None


def in_git_dir(loc: Loc) -> bool:
    """Whether the path is, or is inside, a `.git` directory or file."""
    return ".git" in loc.full.split("/")


def is_dir(loc: Loc) -> bool:
    """Whether an exact path is an existing directory (not following a last symlink)."""
    return loc.path is not None and not loc.pattern and os.path.isdir(loc.path)


def exists(loc: Loc) -> bool:
    """Whether an exact path exists on disk (a dangling symlink counts)."""
    return loc.path is not None and not loc.pattern and os.path.lexists(loc.path)
