"""The tools an agent may call, exactly as the contract names them, and their execution.

Every failure becomes a tool result starting `error: ` that the model reads and can
recover from; the loop never crashes on a tool. Only a lost lease stops the run.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from board.clock import utcnow
from hermes.errors import Fenced, HermesError
from hermes.paths import skills_dir
from workers.agent import files
from workers.agent.approvals import Verdict, judge
from workers.agent.files import ToolError
from workers.agent.human import HumanGate, LeaseLost
from workers.agent.messages import ToolCall, ToolSpec
from workers.agent.shell import run_shell
from workers.runners.base import RunContext

if TYPE_CHECKING:
    from profiles import Profile
    from workers.agent.mcp_client import McpTools

S = {"type": "string"}
GROUPS = {
    "shell": ("shell",),
    "files": ("read_file", "write_file", "edit_file", "list_files"),
    "board": ("board_add", "board_comment", "ask_human"),
    "skills": ("skill_view", "skill_create"),
}
SPECS = {
    spec.name: spec
    for spec in (
        ToolSpec(
            "shell",
            "Run a bash command in the workspace. Returns the exit code and output.",
            {"type": "object", "properties": {"command": S}, "required": ["command"]},
        ),
        ToolSpec(
            "read_file",
            "Read a text file.",
            {"type": "object", "properties": {"path": S}, "required": ["path"]},
        ),
        ToolSpec(
            "write_file",
            "Create or overwrite a file.",
            {
                "type": "object",
                "properties": {"path": S, "content": S},
                "required": ["path", "content"],
            },
        ),
        ToolSpec(
            "edit_file",
            "Replace text that occurs exactly once in a file.",
            {
                "type": "object",
                "properties": {"path": S, "old": S, "new": S},
                "required": ["path", "old", "new"],
            },
        ),
        ToolSpec(
            "list_files",
            "List a directory ('.' is the workspace).",
            {"type": "object", "properties": {"path": S}, "required": ["path"]},
        ),
        ToolSpec(
            "board_add",
            "Create a card, a child of this one. Returns its id.",
            {
                "type": "object",
                "properties": {
                    "title": S,
                    "body": S,
                    "profile": S,
                    "depends_on": {"type": "array", "items": {"type": "integer"}},
                },
                "required": ["title"],
            },
        ),
        ToolSpec(
            "board_comment",
            "Add a comment to this card.",
            {"type": "object", "properties": {"text": S}, "required": ["text"]},
        ),
        ToolSpec(
            "ask_human",
            "Ask a person a question; waits for the answer.",
            {"type": "object", "properties": {"question": S}, "required": ["question"]},
        ),
        ToolSpec(
            "skill_view",
            "Read a skill's instructions.",
            {"type": "object", "properties": {"name": S}, "required": ["name"]},
        ),
        ToolSpec(
            "skill_create",
            "Save a reusable procedure as a skill (or improve one).",
            {
                "type": "object",
                "properties": {"name": S, "description": S, "body": S},
                "required": ["name", "description", "body"],
            },
        ),
    )
}


class Toolbox:
    """The profile's tools, bound to one run."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx, self.gate = ctx, HumanGate(ctx.store, ctx.run_id, ctx.attempt)
        self._handlers: dict[str, Callable[[dict[str, Any]], str]] = {
            "shell": self._shell,
            "read_file": lambda a: files.read_file(ctx.workspace, _text(a, "path")),
            "write_file": lambda a: files.write_file(
                ctx.workspace, _text(a, "path"), _text(a, "content")
            ),
            "edit_file": lambda a: files.edit_file(
                ctx.workspace, _text(a, "path"), _text(a, "old"), _text(a, "new")
            ),
            "list_files": lambda a: files.list_files(ctx.workspace, _text(a, "path")),
            "board_add": self._board_add,
            "board_comment": self._board_comment,
            "ask_human": self._ask_human,
            "skill_view": self._skill_view,
            "skill_create": self._skill_create,
        }
        self.mcp: McpTools | None = None  # the profile's MCP servers, once started

    def specs(self, only: tuple[str, ...] | None = None) -> list[ToolSpec]:
        """The tool schemas offered to the model: the profile's groups and its MCP
        servers' tools, narrowed by `allowed_tools` (or exactly `only`). The first call
        starts the MCP servers, which run until `close`."""
        if only:
            return [SPECS[name] for name in only]
        names = [n for g in self.ctx.profile.tools for n in GROUPS[g]]
        offered = [*(SPECS[name] for name in names), *self._mcp_specs()]
        return [spec for spec in offered if allowed(self.ctx.profile, spec.name)]

    def _mcp_specs(self) -> list[ToolSpec]:
        if not self.ctx.profile.mcp_servers:
            return []
        if self.mcp is None:
            from workers.agent.mcp_client import McpTools

            started = McpTools(self.ctx)
            started.start()
            self.mcp = started
        return self.mcp.specs()

    def close(self) -> None:
        """The run is over: stop the MCP servers it started (for good: a later `specs`
        does not start them again)."""
        if self.mcp is not None:
            self.mcp.close()

    def call(self, call: ToolCall) -> str:
        """Run one tool call; any failure is returned as `error: ...` for the model.
        Secrets in what comes back are masked: the model never reads one."""
        return self.ctx.masker.text(self._call(call))

    def _call(self, call: ToolCall) -> str:
        offered = {spec.name for spec in self.specs()}
        if call.name not in offered:
            return (
                f"error: there is no tool {call.name!r}; the tools are {', '.join(sorted(offered))}"
            )
        try:
            args = json.loads(call.arguments or "{}")
            if not isinstance(args, dict):
                raise ToolError("arguments must be a JSON object")
            if call.name not in self._handlers and self.mcp is not None:
                return self.mcp.call(call.name, args, self.ctx.profile.shell_timeout)
            return self._handlers[call.name](args)
        except json.JSONDecodeError as exc:
            return f"error: the arguments are not valid JSON ({exc.msg}); send a JSON object"
        except (LeaseLost, Fenced):
            raise
        except (ToolError, HermesError) as exc:
            return f"error: {exc}"
        except Exception as exc:  # a tool bug must not end the run: tell the model
            return f"error: {type(exc).__name__}: {exc}"

    # -- shell and the approval gate -----------------------------------------------------

    def _shell(self, args: dict[str, Any]) -> str:
        command = _text(args, "command")
        verdict = judge(command, self.ctx.profile, self.ctx.workspace, self.ctx.env)
        if verdict.action != "run":
            refusal = self._approve(command, verdict)
            if refusal is not None:
                return refusal
        return run_shell(self.ctx, command, self.ctx.profile.shell_timeout)

    def _approve(self, command: str, verdict: Verdict) -> str | None:
        """None when the command may run; otherwise what the model is told instead."""
        if verdict.action == "refuse":
            return (
                f"error: refused by this profile's policy ({verdict.level} risk: {verdict.reason})"
            )
        request = {
            "kind": "approval",
            "command": self.ctx.masker.text(command),
            "risk": verdict.level,
            "reason": self.ctx.masker.text(verdict.reason),
        }
        wait = self.ctx.profile.approve_low_after if verdict.level == "low" else None
        answer = self.gate.ask(request, approve_after=wait)
        if answer.kind == "approved":
            return None
        return f"rejected by a human: {answer.data.get('reason') or 'no reason given'}"

    # -- the board -------------------------------------------------------------------------

    def _board_add(self, args: dict[str, Any]) -> str:
        from hermes.intake import CardRequest, add_card

        card = self.ctx.card
        depends_on = args.get("depends_on") or []
        if not isinstance(depends_on, list) or not all(isinstance(d, int) for d in depends_on):
            raise ToolError("depends_on must be a list of card ids (integers)")
        source = f"goal:{card.id}" if "goal" in card.labels else f"card:{card.id}"
        mask = self.ctx.masker.text
        request = CardRequest(
            title=mask(_text(args, "title")),
            body=mask(str(args.get("body") or "")),
            profile=str(args.get("profile") or "default"),
            after=depends_on,
            repo=Path(card.repo) if card.repo else None,
            no_repo=card.repo is None,
            base=card.base,
            source=source,
            parent_id=card.id,
        )
        new_id, _ = add_card(self.ctx.store, request, utcnow(), fence=self.ctx.run_id)
        return f"card {new_id}"

    def _board_comment(self, args: dict[str, Any]) -> str:
        text = self.ctx.masker.text(_text(args, "text"))
        actor = f"run:{self.ctx.run_id}"
        self.ctx.store.comment(self.ctx.card.id, text, utcnow(), actor, fence=self.ctx.run_id)
        return "comment added"

    def _ask_human(self, args: dict[str, Any]) -> str:
        question = self.ctx.masker.text(_text(args, "question"))
        answer = self.gate.ask({"kind": "question", "question": question})
        return str(answer.data.get("answer", ""))

    # -- skills ----------------------------------------------------------------------------

    def _skill_view(self, args: dict[str, Any]) -> str:
        from skills import load_skill

        skill = load_skill(_text(args, "name"), skills_dir())
        refs = skill.references()
        extra = f"\n\nReference files in {skill.path.parent}: {', '.join(refs)}" if refs else ""
        return f"# {skill.name}\n{skill.description}\n\n{skill.body}{extra}"

    def _skill_create(self, args: dict[str, Any]) -> str:
        from skills import create_skill

        skill = create_skill(
            skills_dir(), _text(args, "name"), _text(args, "description"), _text(args, "body")
        )
        data = {"name": skill.name, "path": str(skill.path.parent)}
        self.ctx.store.note(
            self.ctx.card.id, "skill_saved", utcnow(), f"run:{self.ctx.run_id}", data
        )
        return f"saved skill {skill.name}"


def allowed(profile: Profile, name: str) -> bool:
    """Whether `allowed_tools` (names or shell-style globs; unset: everything) lets the
    agent be offered tool `name`."""
    patterns = profile.allowed_tools
    return patterns is None or any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _text(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str):
        raise ToolError(f"missing argument {name!r} (a string)")
    return value
