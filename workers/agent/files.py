"""File tools for agents, confined to the workspace.

Every path is resolved (symlinks included) and must stay inside the workspace; a path
that escapes is refused with an error the model sees, like any other tool error. `.git`
and everything under it are refused too: git's own files decide what git runs (hooks,
`core.fsmonitor`, where the repository is), and hermes runs git on the host.
"""

from __future__ import annotations

from pathlib import Path

MAX_READ = 100_000
MAX_ENTRIES = 500
GIT = ".git"


class ToolError(Exception):
    """A tool could not do what was asked; the message goes back to the model."""


def confine(workspace: Path, path: str) -> Path:
    """The real path of `path` in the workspace, or a ToolError if it leads outside."""
    if not path.strip():
        raise ToolError("path is empty; use a path relative to the workspace, e.g. 'src/app.py'")
    base = workspace.resolve()
    resolved = (base / path).resolve()  # an absolute `path` replaces `base` here
    if resolved != base and base not in resolved.parents:
        raise ToolError(f"path {path!r} is outside the workspace; use a path inside it")
    parts = (*Path(path).parts, *resolved.relative_to(base).parts)
    if any(part.lower() == GIT for part in parts):  # .GIT too: some filesystems fold case
        raise ToolError(
            f"path {path!r} is inside .git, which the file tools never touch; "
            "use git commands (hermes commits your changes when you finish)"
        )
    return resolved


def read_file(workspace: Path, path: str) -> str:
    """A text file's contents (cut after 100,000 characters)."""
    target = confine(workspace, path)
    if not target.is_file():
        raise ToolError(f"{path!r} is not a file; list_files shows what exists")
    text = target.read_text(encoding="utf-8", errors="replace")
    if len(text) > MAX_READ:
        return text[:MAX_READ] + f"\n[... {len(text) - MAX_READ} more characters not shown]"
    return text


def write_file(workspace: Path, path: str, content: str) -> str:
    """Create or replace a file (and its parent directories)."""
    target = confine(workspace, path)
    if target.is_dir():
        raise ToolError(f"{path!r} is a directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content, encoding="utf-8")
    return f"wrote {len(content)} characters to {target.relative_to(workspace.resolve())}"


def edit_file(workspace: Path, path: str, old: str, new: str) -> str:
    """Replace the one occurrence of `old` with `new`."""
    target = confine(workspace, path)
    if not target.is_file():
        raise ToolError(f"{path!r} is not a file")
    text = target.read_text(encoding="utf-8")
    count = text.count(old) if old else 0
    if count != 1:
        found = "not found" if count == 0 else f"found {count} times"
        raise ToolError(f"`old` {found} in {path}; give text that occurs exactly once")
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    return f"edited {path}"


def list_files(workspace: Path, path: str) -> str:
    """The entries of a directory, directories marked with a trailing slash."""
    target = confine(workspace, path or ".")
    if not target.is_dir():
        raise ToolError(f"{path!r} is not a directory")
    entries = sorted(
        (e.name + ("/" if e.is_dir() else "") for e in target.iterdir() if e.name != GIT),
        key=str.lower,
    )
    if len(entries) > MAX_ENTRIES:
        return "\n".join(entries[:MAX_ENTRIES]) + f"\n[... {len(entries) - MAX_ENTRIES} more]"
    return "\n".join(entries) or "(empty)"
