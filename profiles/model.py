"""The Profile: how cards assigned to it are run (runner, limits, model, tools).

Unknown fields are refused rather than ignored, so a typo such as `concurency: 8` is an
error that names the field instead of a setting that silently does nothing.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from board.cards import MAX_ATTEMPTS_LIMIT, MAX_CONCURRENCY, MAX_TIMEOUT

Runner = Literal["command", "agent", "cli"]
#: A variable name, as `api_key_env`, `env` and `secret_env` take them (never a value).
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class BackendSpec(BaseModel):
    """Where a profile's card work executes (see docs/backends.md).

    `auto` is the sandbox where this machine can sandbox and local elsewhere (the run log
    and `hermes doctor` say which). Each kind takes only its own fields, so a field meant
    for another kind (`image` on an ssh backend, say) is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["auto", "local", "sandbox", "docker", "ssh"] = "auto"
    # sandbox: true reaches the network (false: a private loopback only);
    # docker: the container's network mode, `none` unless the profile says otherwise
    network: bool | str = False
    expose: list[str] = Field(default_factory=list)  # sandbox: more read-only paths
    # docker
    image: str | None = None
    docker_host: str | None = None  # the daemon's endpoint; unset: DOCKER_HOST, then default
    # ssh
    host: str | None = None
    port: int = Field(default=22, ge=1, le=65535)
    user: str | None = None
    key_file: str | None = None  # the private key to log in with (never a password)
    workdir: str | None = None  # on the remote host; each card gets a folder under it
    known_hosts: str | None = None  # the file host keys are checked against
    host_key: str | None = None  # or one pinned public key, e.g. "ssh-ed25519 AAAA..."

    @model_validator(mode="after")
    def _fields_of_its_kind(self) -> BackendSpec:
        """Each kind's own fields, and what it cannot run without."""
        given = self.model_fields_set - {"kind"}
        mine = set(KIND_FIELDS.get(self.kind, ()))
        for name in sorted(given - mine):
            owners = [kind for kind, names in KIND_FIELDS.items() if name in names]
            raise ValueError(
                f"`{name}` is not a setting of backend {self.kind} (it is for "
                f"{' or '.join(owners)}); remove it"
            )
        for name in REQUIRED.get(self.kind, ()):
            if getattr(self, name) in (None, ""):
                raise ValueError(f"backend {self.kind} needs `{name}`, e.g. {EXAMPLES[name]}")
        if self.kind in ("auto", "sandbox") and not isinstance(self.network, bool):
            raise ValueError("sandbox `network` is true or false")
        if self.kind == "docker" and "network" in given and not isinstance(self.network, str):
            raise ValueError("docker `network` is a network mode: none (the default), bridge, host")
        if self.known_hosts and self.host_key:
            raise ValueError("give `known_hosts` or `host_key`, not both")
        return self

    @property
    def network_mode(self) -> str:
        """Docker's network mode (`none` unless the profile names one)."""
        return self.network if isinstance(self.network, str) and self.network else "none"


KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "auto": ("network", "expose"),
    "local": (),
    "sandbox": ("network", "expose"),
    "docker": ("image", "network", "docker_host"),
    "ssh": ("host", "port", "user", "key_file", "workdir", "known_hosts", "host_key"),
}
REQUIRED = {"docker": ("image",), "ssh": ("host", "key_file", "workdir")}
EXAMPLES = {
    "image": "image: python:3.12-slim",
    "host": "host: build1.example.com",
    "key_file": "key_file: ~/.ssh/id_ed25519",
    "workdir": "workdir: /srv/hermes",
}


class ApprovalRules(BaseModel):
    """What happens to an agent's risky shell commands, plus the profile's own rules.

    Patterns are shell-style globs matched against each command of a command line (and
    the whole line): `deny` refuses, `ask` waits for a human, `allow` runs without asking.
    A command matching several lists takes the strictest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["ask", "auto", "deny"] = "ask"
    allow: list[str] = Field(default_factory=list)
    ask: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)


Tool = Literal["shell", "files", "board", "skills"]
ALL_TOOLS: tuple[Tool, ...] = ("shell", "files", "board", "skills")
#: Every built-in tool an agent may be offered, by the name the model sees (the
#: contract's); `allowed_tools` names these and the `mcp__<server>__<tool>` ones.
BUILTIN_TOOLS = (
    "shell", "read_file", "write_file", "edit_file", "list_files",
    "board_add", "board_comment", "ask_human", "skill_view", "skill_create",
)  # fmt: skip
MCP_PREFIX = "mcp__"
#: An MCP server's name becomes part of its tools' names (`mcp__NAME__TOOL`): no `__` in it.
SERVER_NAME = r"^[A-Za-z0-9-]+(?:_[A-Za-z0-9-]+)*$"


class McpServer(BaseModel):
    """A stdio MCP server whose tools the agent is offered as `mcp__<name>__<tool>`
    (docs/mcp.md): started when a run starts, stopped when it ends."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(max_length=40)
    command: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)  # VALUE, or ${NAME} from hermes' own

    @field_validator("name")
    @classmethod
    def _tool_name_part(cls, name: str) -> str:
        if not re.fullmatch(SERVER_NAME, name):
            raise ValueError(
                f"server name {name!r} must be letters, digits, '-' and single '_' "
                "(its tools are named mcp__NAME__TOOL), e.g. github"
            )
        return name

    @field_validator("env")
    @classmethod
    def _variable_names(cls, env: dict[str, str]) -> dict[str, str]:
        if not all(re.fullmatch(ENV_NAME, name) for name in env):
            raise ValueError("env maps variable names to values, e.g. {GITHUB_HOST: github.com}")
        return env


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
    mcp_servers: list[McpServer] = Field(default_factory=list)  # their tools are offered too
    allowed_tools: list[str] | None = None  # only these tools (names or globs); None: all
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
    approvals: ApprovalRules = Field(default_factory=ApprovalRules)  # risky shell commands
    approve_low_after: float = Field(
        default=300, ge=0, allow_inf_nan=False
    )  # low risk: approved if unanswered
    learn: bool = False  # offer to save a skill after a long run
    # how long one wait for a human may last; unset: waits count against `timeout`
    human_timeout: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    # containment (every runner)
    backend: BackendSpec = Field(default_factory=BackendSpec)
    env: list[str] = Field(default_factory=list)  # variables passed to card work on purpose
    secret_env: list[str] = Field(default_factory=list)  # more variables kept from card work
    # runner: cli
    command: list[str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _cli_agents_run_locally(cls, data: Any) -> Any:
        """External agent CLIs need their own login and settings under $HOME, which a
        sandbox hides: unless told otherwise they run locally."""
        if isinstance(data, dict) and data.get("runner") == "cli" and "backend" not in data:
            return {**data, "backend": "local"}
        return data

    @field_validator("backend", mode="before")
    @classmethod
    def _backend_by_name(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value

    @field_validator("approvals", mode="before")
    @classmethod
    def _approvals_by_mode(cls, value: Any) -> Any:
        return {"mode": value} if isinstance(value, str) else value

    @field_validator("api_key_env")
    @classmethod
    def _key_variable_name(cls, name: str | None) -> str | None:
        if name is not None and not re.fullmatch(ENV_NAME, name):
            raise ValueError(
                "give the name of the variable that holds the key (e.g. OPENAI_API_KEY), "
                "never the key itself"
            )
        return name

    @field_validator("env", "secret_env")
    @classmethod
    def _variable_names(cls, names: list[str]) -> list[str]:
        if not all(re.fullmatch(ENV_NAME, name) for name in names):
            raise ValueError("list variable names (e.g. GITHUB_TOKEN), never their values")
        return names

    @model_validator(mode="after")
    def _runner_has_what_it_needs(self) -> Profile:
        if self.runner == "cli" and not self.command:
            raise ValueError(
                'runner \'cli\' needs `command`, e.g. command: ["claude", "-p", "{prompt}"]'
            )
        if self.runner == "agent" and not self.model:
            raise ValueError("runner 'agent' needs `model`, e.g. model: openai/gpt-4o-mini")
        if self.runner == "agent" and self.api_base and "/" not in (self.model or ""):
            raise ValueError(
                f"with `api_base`, `model` needs its provider: write openai/{self.model} for "
                "an OpenAI-compatible server (or PROVIDER/NAME for another)"
            )
        return self._mcp_tools_known()

    def _mcp_tools_known(self) -> Profile:
        """Server names are unique, and `allowed_tools` names tools that can exist: a typo
        would otherwise hide a tool without a word."""
        names = [server.name for server in self.mcp_servers]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"mcp_servers: the name {twice[0]!r} is used twice; rename one")
        for entry in self.allowed_tools or ():
            _check_allowed(entry, names)
        return self


def _check_allowed(entry: str, servers: list[str]) -> None:
    """Refuse an `allowed_tools` entry that no tool of this profile could ever match."""
    if entry.startswith(MCP_PREFIX):
        server = entry.removeprefix(MCP_PREFIX).split("__", 1)[0]
        if any(ch in server for ch in "*?[") or server in servers:
            return
        known = ", ".join(servers) or "none yet: add them under mcp_servers"
        raise ValueError(
            f"allowed_tools: {entry!r} names MCP server {server!r}, which this profile does "
            f"not have (its servers: {known})"
        )
    if not fnmatch.filter(BUILTIN_TOOLS, entry):
        raise ValueError(
            f"allowed_tools: {entry!r} is not a tool; the built-in tools are "
            f"{', '.join(BUILTIN_TOOLS)}, and MCP tools are named mcp__SERVER__TOOL"
        )
