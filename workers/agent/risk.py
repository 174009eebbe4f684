"""How risky a shell command an agent wants to run is, and why.

- high: force pushes and history rewrites of shared branches, dropping or deleting data,
  deploys and publishes, key rotation, running as another user, deleting or overwriting
  anything outside the workspace;
- medium: deleting single files or editing files outside the workspace, configuration
  changes outside it, branch deletion, anything that cannot be read;
- low: cleaning caches, temporary files and logs (it approves itself after a delay).

Anything else runs without asking. The command is read with bash's own grammar and
judged by `workers.gate`; this module is its public face for the agent's toolbox. It is
a seat belt for an honest agent, not a sandbox against a hostile one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from workers.gate import Level, Risk, assess, command_lines

__all__ = ["Level", "Risk", "classify", "commands_of"]


def classify(command: str, workspace: Path, env: Mapping[str, str] | None = None) -> Risk | None:
    """The risk of running `command` in `workspace`, or None when it is not risky.

    `env` is what the command would see (HOME, TMPDIR, HERMES_WORKSPACE...); without it,
    HOME comes from this process and PWD and HERMES_WORKSPACE are the workspace. The
    command always starts in the workspace, whatever PWD says (bash resets it too).
    A failure inside the gate asks a human rather than letting the command through.
    """
    seen = dict(env) if env is not None else _default_env(workspace)
    seen["PWD"] = str(workspace)
    try:
        return assess(command, workspace, seen)
    except Exception as exc:  # the gate must fail closed, never crash the agent's turn
        return Risk("medium", f"the approval gate could not read this command ({exc!r})")


def commands_of(command: str, workspace: Path, env: Mapping[str, str] | None = None) -> list[str]:
    """Each simple command in `command`, as text, for a profile's approval patterns;
    empty when it cannot be read (the whole line is still matched). The program reads
    as rules know it (`/usr/bin/curl` is `curl`; `git -C . push` is `git push`), so a
    pattern is not dodged by spelling the same command another way."""
    seen = dict(env) if env is not None else _default_env(workspace)
    seen["PWD"] = str(workspace)
    try:
        return command_lines(command, workspace, seen)
    except Exception:  # the classifier says medium for what cannot be read
        return []


def _default_env(workspace: Path) -> dict[str, str]:
    home = os.environ.get("HOME") or os.path.expanduser("~")
    return {"HOME": home, "PWD": str(workspace), "HERMES_WORKSPACE": str(workspace)}
