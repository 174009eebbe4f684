"""How risky a shell command an agent wants to run is, and why.

- high: force pushes and history rewrites of shared branches, `rm -r` outside the
  workspace, dropping or truncating tables, deploys and publishes, key rotation, sudo;
- medium: deleting branches, deleting files outside the workspace, editing configuration
  outside it;
- low: cleaning caches, temporary files and logs.

Anything else runs without asking. The rules read the command as a person would skim
it; they are a seat belt for an honest agent, not a sandbox against a hostile one.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Level = Literal["high", "medium", "low"]


@dataclass(frozen=True, slots=True)
class Risk:
    """A risky command's level and the reason, as the approval request shows them."""

    level: Level
    reason: str


SHARED = r"(?:main|master|trunk|develop|release\S*|origin/\S+)"
DEPLOYS = "|".join(
    (
        r"kubectl\s+(?:apply|delete|rollout|scale|replace)",
        r"helm\s+(?:install|upgrade|uninstall|delete|rollback)",
        r"terraform\s+(?:apply|destroy)",
        r"pulumi\s+(?:up|destroy)",
        r"(?:fly|flyctl)\s+deploy",
        r"vercel\b[^;&|]*--prod",
        r"netlify\s+deploy",
        r"gcloud\b[^;&|]*\bdeploy",
        r"aws\b[^;&|]*\bdeploy",
        r"(?:serverless|sls|kamal)\s+deploy",
        r"ansible-playbook",
        r"docker\s+push",
    )
)
KEYS = "|".join(
    (
        r"aws\s+iam\s+(?:create|delete|update)-access-key",
        r"gcloud\b[^;&|]*\bkeys\s+(?:create|delete)",
        r"ssh-keygen\b[^;&|]*-f\s*~?/?\S*\.ssh",
        r"gpg\b[^;&|]*--delete-secret-key",
        r"vault\b[^;&|]*\brotate",
    )
)
_RULES: tuple[tuple[Level, str, str], ...] = (
    ("high", "force push",
     r"\bgit\s+push\b[^;&|]*(?:\s--force\b|\s-f\b|\s--force-with-lease\b|\s\+\S)"),
    ("high", "history rewrite", r"\bgit\s+(?:filter-branch|filter-repo)\b"),
    ("high", "history rewrite on a shared branch",
     rf"\bgit\s+(?:rebase\b[^;&|]*\s{SHARED}\b|reset\s+--hard\s+{SHARED}\b)"),
    ("high", "drops or truncates data",
     r"\b(?:drop\s+(?:table|database|schema|index)|truncate\s+(?:table\s+)?[\w.\"]+\s*(?:;|\"|'|$))"),
    ("high", "deploy", rf"\b(?:{DEPLOYS})\b"),
    ("high", "publishes a release",
     r"\b(?:npm\s+publish|twine\s+upload|cargo\s+publish|gem\s+push|(?:poetry|uv)\s+publish)\b"),
    ("high", "key rotation", rf"\b(?:{KEYS})"),
    ("high", "runs as root", r"(?:^|[;&|]\s*)sudo\b"),
    ("medium", "branch deletion",
     r"\bgit\s+(?:branch\s+(?:-d|-D|--delete)\b|push\b[^;&|]*(?:--delete\b|\s:\S))"),
    ("medium", "config edit outside the workspace",
     r"\bgit\s+config\s+--(?:global|system)\b|\b(?:npm|pip|yarn)\s+config\s+set\b"),
)  # fmt: skip
PATTERNS: tuple[tuple[Level, str, re.Pattern[str]], ...] = tuple(
    (level, reason, re.compile(pattern, re.IGNORECASE)) for level, reason, pattern in _RULES
)

CACHE_LIKE = re.compile(
    r"^(?:/tmp/|/var/tmp/|~/\.cache/|\$HOME/\.cache/|\$\{HOME\}/\.cache/)|"
    r"(?:^|/)(?:__pycache__|\.pytest_cache|\.mypy_cache|\.ruff_cache|node_modules/\.cache)(?:/|$)|"
    r"\.log$|(?:^|/)logs?/"
)
SEPARATORS = re.compile(r"\s*(?:;|&&|\|\||\||\n)\s*")


def classify(command: str, workspace: Path) -> Risk | None:
    """The risk of running `command` in `workspace`, or None when it is not risky."""
    for level, reason, pattern in PATTERNS:
        if pattern.search(command):
            return Risk(level, reason)
    found = [risk for part in SEPARATORS.split(command) if (risk := _segment(part, workspace))]
    for level in ("high", "medium", "low"):
        for risk in found:
            if risk.level == level:
                return risk
    return None


def _segment(part: str, workspace: Path) -> Risk | None:
    try:
        words = shlex.split(part)
    except ValueError:
        words = part.split()
    if not words:
        return None
    if words[0] == "rm":
        return _removal(words[1:], workspace)
    return _redirect(part, workspace)


def _removal(args: list[str], workspace: Path) -> Risk | None:
    flags = [a for a in args if a.startswith("-")]
    recursive = any(
        a in ("-r", "-R", "--recursive") or (a[1:2] != "-" and "r" in a.lower()) for a in flags
    )
    targets = [a for a in args if not a.startswith("-")]
    outside = [t for t in targets if not inside(t, workspace)]
    if not outside:
        return None
    if all(CACHE_LIKE.search(t) for t in outside):
        return Risk("low", "cache, temporary file or log cleanup")
    where = ", ".join(outside)
    if recursive:
        return Risk("high", f"rm -r outside the workspace ({where})")
    return Risk("medium", f"deletes files outside the workspace ({where})")


def _redirect(part: str, workspace: Path) -> Risk | None:
    """Writing into files outside the workspace: `> ~/.bashrc`, `tee /etc/x`, `sed -i`."""
    targets = re.findall(r">>?\s*(\S+)", part)
    targets += re.findall(r"\btee\s+(?:-a\s+)?(\S+)", part)
    if re.match(r"\s*sed\s+(?:-\S*\s+)*-i", part):
        targets += [w for w in part.split()[2:] if not w.startswith("-")][-1:]
    outside = [
        t
        for t in targets
        if t not in ("/dev/null", "/dev/stderr", "/dev/stdout")
        and not t.startswith(("&", "/tmp/", "/var/tmp/"))
        and not inside(t, workspace)
    ]
    if outside:
        return Risk("medium", f"config edit outside the workspace ({', '.join(outside)})")
    return None


def inside(target: str, workspace: Path) -> bool:
    """Whether a path as written in a command stays inside the workspace."""
    if target.startswith(("~", "$HOME", "${HOME}")):
        return False
    base = workspace.resolve()
    path = Path(target) if target.startswith("/") else base / target
    try:
        resolved = path.resolve()
    except OSError:
        return False
    return resolved == base or base in resolved.parents
