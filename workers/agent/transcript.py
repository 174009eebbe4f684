"""The conversation, written as it happens, twice.

`run-<id>.jsonl` beside the run log gets one JSON object per message, tool result and
note (for tools and for a crashed run's post-mortem); the run log itself gets a readable
account, the model's words streamed as they arrive, so `hermes board log --follow`
shows the agent working live.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from workers.agent.messages import Message, Reply, ToolCall
from workers.logs import open_log
from workers.secrets import Masker

PREVIEW_LINES = 6


class Transcript:
    """Appends to `run-<id>.jsonl` and `run-<id>.log`, flushing every write, with every
    secret masked."""

    def __init__(self, log_path: Path, masker: Masker) -> None:
        self.log_path = log_path
        self.jsonl_path = log_path.with_suffix(".jsonl")
        self._masker = masker
        self._streaming = False

    def _record(self, entry: dict[str, Any]) -> None:
        masked = self._masker.deep({"at": time.time(), **entry})
        line = json.dumps(masked, ensure_ascii=False) + "\n"
        with open_log(self.jsonl_path) as handle:
            handle.write(line.encode("utf-8"))

    def _write(self, text: str) -> None:
        with open_log(self.log_path) as handle:
            handle.write(self._masker.text(text).encode("utf-8"))

    def prompt(self, messages: list[Message]) -> None:
        """The opening messages (system prompt and card)."""
        for message in messages:
            self._record({"type": "message", **message.to_json()})
        self._write(f"[agent] prompt: {sum(len(m.text or '') for m in messages)} characters\n")

    def text(self, chunk: str) -> None:
        """Words of the model's reply, as they stream in."""
        if not self._streaming:
            self._write("[model] ")
            self._streaming = True
        self._write(chunk)

    def reply(self, reply: Reply) -> None:
        """A whole model reply, with its usage."""
        if self._streaming:
            self._write("\n")
            self._streaming = False
        usage = {
            "tokens_in": reply.tokens_in,
            "tokens_out": reply.tokens_out,
            "cost_usd": reply.cost_usd,
        }
        self._record({"type": "message", **reply.message.to_json(), "usage": usage})

    def tool(self, call: ToolCall, result: str) -> None:
        """A tool call and what it returned."""
        self._record(
            {
                "type": "tool",
                "call_id": call.id,
                "name": call.name,
                "arguments": call.arguments,
                "result": result,
            }
        )
        lines = result.splitlines() or [""]
        shown = "\n    ".join(lines[:PREVIEW_LINES])
        more = (
            f"\n    [... {len(lines) - PREVIEW_LINES} more lines]"
            if len(lines) > PREVIEW_LINES
            else ""
        )
        self._write(f"[tool] {call.name} {_brief(call.arguments)}\n    {shown}{more}\n")

    def note(self, text: str) -> None:
        """Something the loop decided (a budget hit, the learning turn)."""
        self._record({"type": "note", "text": text})
        self._write(f"[agent] {text}\n")


def _brief(arguments: str, limit: int = 200) -> str:
    flat = " ".join(arguments.split())
    return flat if len(flat) <= limit else flat[:limit] + " ..."
