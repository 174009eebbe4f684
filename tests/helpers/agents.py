"""Agent profiles pointed at the scripted model server, for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

KEY_ENV = "HERMES_TEST_MODEL_KEY"


def agent_profile(home: Path, name: str, api_base: str, **fields: Any) -> str:
    """Write `$HERMES_HOME/profiles/<name>.yaml` for an agent on `api_base`; returns name."""
    folder = home / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    profile = {
        "runner": "agent",
        "model": "openai/gpt-4o-mini",
        "api_base": api_base,
        "api_key_env": KEY_ENV,
        "max_attempts": 1,
        "timeout": 120,
        **fields,
    }
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(profile))
    return name


def call(tool: str, /, **arguments: Any) -> dict[str, Any]:
    """One scripted tool call."""
    return {"name": tool, "arguments": arguments}


def tool_results(request: dict[str, Any]) -> list[str]:
    """The tool results a model request carried (what the model was told)."""
    return [m["content"] for m in request["messages"] if m.get("role") == "tool"]
