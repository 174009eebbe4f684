"""The conversation in hermes's own types: what the loop, the tools and the transcript see.

Provider objects never get past the adapter (`workers.agent.model`), which converts these
to and from the chat-completions wire format; the loop is therefore readable without
knowing litellm, and the transcript is plain JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The model asks for a tool; `arguments` is the raw JSON text it wrote."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Message:
    """One turn of the conversation.

    `system` and `user` carry text; `assistant` carries text and/or tool calls; `tool`
    carries one tool's result for `call_id`.
    """

    role: Literal["system", "user", "assistant", "tool"]
    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    call_id: str | None = None
    name: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The message as a transcript line."""
        out: dict[str, Any] = {"role": self.role, "text": self.text}
        if self.tool_calls:
            out["tool_calls"] = [
                {"id": c.id, "name": c.name, "arguments": c.arguments} for c in self.tool_calls
            ]
        if self.call_id is not None:
            out["call_id"], out["name"] = self.call_id, self.name
        return out


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool offered to the model: name, what it is for, JSON-schema parameters."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reply:
    """What one model call returned, with what it cost."""

    message: Message
    tokens_in: int
    tokens_out: int
    cost_usd: float | None


@dataclass(slots=True)
class Spend:
    """Tokens and money spent so far in a run."""

    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None
    turns: int = 0
    tool_calls: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, reply: Reply) -> None:
        """Count one model call."""
        self.turns += 1
        self._count(reply.tokens_in, reply.tokens_out, reply.cost_usd)

    def absorb(self, other: Spend) -> None:
        """Add what another loop spent (tokens and money; not its turns)."""
        self._count(other.tokens_in, other.tokens_out, other.cost_usd)

    def _count(self, tokens_in: int, tokens_out: int, cost_usd: float | None) -> None:
        self.tokens_in += tokens_in
        self.tokens_out += tokens_out
        if cost_usd is not None:  # unknown until some call says what it cost
            self.cost_usd = (self.cost_usd or 0.0) + cost_usd
