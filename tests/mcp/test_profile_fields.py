"""A profile's `mcp_servers` and `allowed_tools`: what is accepted, and the errors that
name the field and the fix when something is wrong (a typo must not silently hide a
tool, and a pasted secret must not be echoed back)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hermes.errors import ProfileError
from profiles import read_profile
from tests.conftest import Cli

ECHO = {"name": "echo", "command": "python3", "args": ["echo_server.py"]}


def profile(tmp_path: Path, **fields: Any) -> Path:
    path = tmp_path / "bot.yaml"
    path.write_text(yaml.safe_dump({"runner": "agent", "model": "openai/x", **fields}))
    return path


def test_servers_and_allowed_tools_are_read(tmp_path: Path) -> None:
    github = {
        "name": "git-hub_2",
        "command": "github-mcp",
        "env": {"GITHUB_TOKEN": "${GITHUB_TOKEN}", "GITHUB_HOST": "github.com"},
    }
    read = read_profile(
        profile(
            tmp_path,
            mcp_servers=[ECHO, github],
            allowed_tools=["read_file", "skill_*", "mcp__echo__echo", "mcp__git-hub_2__*"],
        )
    )
    assert [s.name for s in read.mcp_servers] == ["echo", "git-hub_2"]
    assert read.mcp_servers[1].env["GITHUB_HOST"] == "github.com"
    assert read.mcp_servers[0].args == ["echo_server.py"] and read.mcp_servers[0].env == {}
    assert read_profile(profile(tmp_path)).allowed_tools is None  # unset: every tool


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        (
            {"mcp_servers": [{**ECHO, "name": "my__server"}]},
            "server name 'my__server' must be letters, digits, '-' and single '_'",
        ),
        ({"mcp_servers": [{"name": "echo"}]}, "field 'mcp_servers.0.command': Field required"),
        ({"mcp_servers": [ECHO, ECHO]}, "mcp_servers: the name 'echo' is used twice"),
        ({"mcp_servers": [{**ECHO, "cwd": "/tmp"}]}, "'mcp_servers.0.cwd' is not a profile field"),
        ({"allowed_tools": ["shel"]}, "allowed_tools: 'shel' is not a tool; the built-in tools"),
        (
            {"mcp_servers": [ECHO], "allowed_tools": ["mcp__ecko__echo"]},
            "names MCP server 'ecko', which this profile does not have (its servers: echo)",
        ),
    ],
)
def test_mistakes_are_named(tmp_path: Path, fields: dict[str, Any], says: str) -> None:
    with pytest.raises(ProfileError) as failed:
        read_profile(profile(tmp_path, **fields))
    assert says in str(failed.value)


def test_a_value_in_a_server_s_env_is_never_echoed(cli: Cli, hermes_home: Path) -> None:
    folder = hermes_home / "profiles"
    folder.mkdir(parents=True)
    server = {**ECHO, "env": {"bad name": "sk-live-secret-value"}}
    (folder / "leaky.yaml").write_text(yaml.safe_dump({"runner": "agent", "mcp_servers": [server]}))
    shown = cli("profiles", "show", "leaky")
    assert shown.code == 2
    assert "env maps variable names to values" in shown.err
    assert "sk-live-secret-value" not in shown.err
