"""Picking an agent's conversation up where it stopped, instead of paying for it again.

An agent run that was taken back while it waited for a human (its dispatcher stopped,
its worker died) leaves a transcript that ends with a tool call nobody answered. When
its card is claimed again, the new run rebuilds the conversation from that transcript,
asks the same question again (or the same approval), and goes on from there: no model
call is repeated. Its workspace is kept as the stopped run left it, since the
conversation describes that state.

Only that case is resumed: a run that failed, timed out or was cancelled starts over.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from board import Store
from board.status import ANSWER_KINDS
from workers.agent.messages import Message, ToolCall

#: Events that end a wait for a human (or begin one).
WAIT_KINDS = ("needs_input", "resumed", *ANSWER_KINDS)


@dataclass(frozen=True, slots=True)
class Resume:
    """A conversation to go on with: its messages, and the tool calls of its last turn
    that have no result yet (the one that waited for a human, and any after it)."""

    from_run: int
    messages: list[Message]
    pending: list[ToolCall]


def resumable_run(store: Store, card_id: int, run_id: int) -> int | None:
    """The run before `run_id` if it was taken back while waiting for a human."""
    runs = [run for run in store.detail(card_id).runs if run.id < run_id]
    if not runs or runs[-1].outcome != "reclaimed":
        return None
    waits = store.run_events(runs[-1].id, WAIT_KINDS)
    return runs[-1].id if waits and waits[-1].kind == "needs_input" else None


def load(transcript: Path, from_run: int) -> Resume | None:
    """The conversation recorded in `transcript` (a run's `.jsonl`), or None when it
    cannot be rebuilt (missing, damaged, or not stopped on a tool call)."""
    try:
        lines = transcript.read_text(encoding="utf-8").splitlines()
        entries = [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError):
        return None
    messages = [m for entry in entries if (m := _message(entry)) is not None]
    last = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].tool_calls), None)
    if last is None or any(m.role == "assistant" for m in messages[last + 1 :]):
        return None
    answered = {m.call_id for m in messages[last + 1 :] if m.role == "tool"}
    pending = [call for call in messages[last].tool_calls if call.id not in answered]
    return Resume(from_run, messages, pending) if pending else None


def _message(entry: dict[str, Any]) -> Message | None:
    """A transcript line as the message it recorded (tool results included)."""
    if entry.get("type") == "tool":
        return Message("tool", str(entry.get("result", "")), call_id=entry.get("call_id"),
                       name=entry.get("name"))  # fmt: skip
    if entry.get("type") != "message" or entry.get("role") not in (
        "system", "user", "assistant", "tool",
    ):  # fmt: skip
        return None
    calls = tuple(
        ToolCall(str(c["id"]), str(c["name"]), str(c.get("arguments") or "{}"))
        for c in entry.get("tool_calls") or []
    )
    return Message(
        entry["role"], entry.get("text"), calls, call_id=entry.get("call_id"),
        name=entry.get("name"),
    )  # fmt: skip
