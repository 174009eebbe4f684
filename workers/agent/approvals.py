"""What happens to a shell command an agent wants to run: run it, ask a human, or refuse.

The gate (`workers.agent.risk`) says how risky a command is; the profile says what to do
about it (`approvals.mode`) and may add its own rules: shell-style globs matched against
the whole command line and against each command in it. The strictest answer wins:
`deny` refuses, `ask` waits for a human, and `allow` lets a line run without asking
only when every command in it is allowed (each command, not the line: a pattern's `*`
would match `; rm -rf ~` too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

from profiles import Profile
from workers.agent.risk import Level, classify, commands_of

Action = Literal["ask", "run", "refuse"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The gate's answer, as `hermes approvals check --json` prints it."""

    level: Level | None
    reason: str
    action: Action

    def to_json(self) -> dict[str, Any]:
        """The contract's object: level, reason, action."""
        return {"level": self.level, "reason": self.reason, "action": self.action}


def judge(
    command: str, profile: Profile, workspace: Path, env: Mapping[str, str] | None = None
) -> Verdict:
    """What an agent of `profile` meets when it runs `command` in `workspace`."""
    rules = profile.approvals
    units = [command.strip(), *commands_of(command, workspace, env)]
    risk = classify(command, workspace, env)
    level = risk.level if risk else None
    if (hit := _first(rules.deny, units)) is not None:
        return Verdict(level or "high", f"matches this profile's deny rule {hit!r}", "refuse")
    if (hit := _first(rules.ask, units)) is not None:
        return Verdict(level or "medium", f"matches this profile's ask rule {hit!r}", "ask")
    if rules.allow and _allowed(rules.allow, units):
        also = f" (without them: {risk.level} risk, {risk.reason})" if risk else ""
        return Verdict(level, f"allowed by this profile's rules{also}", "run")
    if risk is None:
        return Verdict(None, "nothing risky found", "run")
    return Verdict(risk.level, risk.reason, _action(profile, risk.level))


def _action(profile: Profile, level: Level) -> Action:
    mode = profile.approvals.mode
    if mode == "auto":
        return "run"
    if level == "low":
        return "run" if mode == "deny" or profile.approve_low_after == 0 else "ask"
    return "refuse" if mode == "deny" else "ask"


def _first(patterns: list[str], units: list[str]) -> str | None:
    return next((p for p in patterns for u in units if fnmatchcase(u, p)), None)


def _allowed(patterns: list[str], units: list[str]) -> bool:
    """Every single command in the line matches (never the line as a whole: a glob's
    `*` also matches `; rm -rf ~`)."""
    _whole, *parts = units
    return bool(parts) and all(any(fnmatchcase(u, p) for p in patterns) for u in parts)
