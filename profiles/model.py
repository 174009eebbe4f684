"""The Profile: how cards assigned to it are run (runner, limits, model, tools).

Unknown fields are refused rather than ignored, so a typo such as `concurency: 8` is an
error that names the field instead of a setting that silently does nothing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from board.cards import MAX_ATTEMPTS_LIMIT, MAX_CONCURRENCY, MAX_TIMEOUT

Runner = Literal["command", "agent", "cli"]
Tool = Literal["shell", "files", "board", "skills"]
ALL_TOOLS: tuple[Tool, ...] = ("shell", "files", "board", "skills")


class Profile(BaseModel):
    """A named way of working cards; see docs/profiles.md for every field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    runner: Runner = "agent"
    concurrency: int = Field(default=4, ge=1, le=MAX_CONCURRENCY)
    max_attempts: int = Field(default=3, ge=1, le=MAX_ATTEMPTS_LIMIT)
    timeout: float | None = Field(default=600, gt=0, le=MAX_TIMEOUT, allow_inf_nan=False)
    review: bool = False
    # runner: agent
    model: str | None = "openai/gpt-4o-mini"
    api_base: str | None = None
    api_key_env: str | None = "OPENAI_API_KEY"
    soul: str = ""
    tools: list[Tool] = Field(default_factory=lambda: list(ALL_TOOLS))
    max_turns: int = Field(default=30, ge=1)
    max_seconds: float | None = Field(
        default=None, gt=0, allow_inf_nan=False
    )  # wall-time budget of the loop
    max_tokens: int | None = Field(default=None, ge=1)  # tokens in + out, whole run
    max_cost: float | None = Field(
        default=None, gt=0, allow_inf_nan=False
    )  # USD, where the price is known
    shell_timeout: float = Field(
        default=120, gt=0, allow_inf_nan=False
    )  # seconds per `shell` tool call
    approvals: Literal["ask", "auto", "deny"] = "ask"  # risky shell commands
    approve_low_after: float = Field(
        default=300, ge=0, allow_inf_nan=False
    )  # low risk: approved if unanswered
    learn: bool = False  # offer to save a skill after a long run
    # runner: cli
    command: list[str] | None = None

    @model_validator(mode="after")
    def _runner_has_what_it_needs(self) -> Profile:
        if self.runner == "cli" and not self.command:
            raise ValueError(
                'runner \'cli\' needs `command`, e.g. command: ["claude", "-p", "{prompt}"]'
            )
        if self.runner == "agent" and not self.model:
            raise ValueError("runner 'agent' needs `model`, e.g. model: openai/gpt-4o-mini")
        return self
