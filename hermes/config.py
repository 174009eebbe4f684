"""One Config per process: where the state is, and `$HERMES_HOME/config.yaml`, validated.

The environment (`HERMES_HOME`, `HERMES_DB_URL`) and the settings file are read once,
when a process starts its work, and the Config is passed down from there. Every key of
the settings file has a default; an unknown key or a bad value is refused (exit 2) with
the file, the key and the fix. Secrets are never stored in the file: it names the
environment variables that hold them (`token_env`, `api_key_env`...).

```yaml
defaults:                 # for agent profiles that do not say
  model: openai/gpt-4o-mini
  api_base: null
  api_key_env: OPENAI_API_KEY
http: {host: 127.0.0.1, port: 8420, token_env: HERMES_TOKEN}
gateway:
  telegram: {token_env: TELEGRAM_BOT_TOKEN, api_base: null, allow: [], profile: default}
  discord: {token_env: DISCORD_BOT_TOKEN, api_base: null, gateway_url: null, allow: []}
  slack: {bot_token_env: SLACK_BOT_TOKEN, app_token_env: SLACK_APP_TOKEN, allow: []}
```
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msgspec import Struct

from hermes import __version__
from hermes.errors import InvalidInput
from hermes.paths import board_url, hermes_home

if TYPE_CHECKING:
    from profiles import Profile

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
LOOPBACK_NAMES = ("localhost",)
#: The chat platforms the gateway speaks, as config.yaml names them.
CHAT_PLATFORMS = ("telegram", "discord", "slack")


@functools.cache
def _models() -> Any:
    """The pydantic models of the settings file (built on first use, once: building
    them costs ~30 ms, and a worker template asks for them per card)."""
    from pydantic import BaseModel, ConfigDict, Field, model_validator

    class Section(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

    class Defaults(Section):
        """What agent profiles that do not name their model use."""

        model: str | None = None
        api_base: str | None = None
        api_key_env: str | None = Field(default=None, pattern=ENV_NAME)

    class Http(Section):
        """The HTTP server: web board, API and MCP."""

        host: str = "127.0.0.1"
        port: int = Field(default=8420, ge=1, le=65535)
        # the variable holding the bearer token; while it is empty, only loopback is served
        token_env: str | None = Field(default="HERMES_TOKEN", pattern=ENV_NAME)

        @model_validator(mode="after")
        def _loopback_or_token(self) -> Http:
            if self.token_env is None and not is_loopback(self.host):
                raise ValueError(
                    f"host {self.host!r} is not this machine only: set http.token_env to the "
                    "variable holding the API token first (or use 127.0.0.1)"
                )
            return self

    class Platform(Section):
        """What every chat platform has: who may talk to the bot, and its cards."""

        api_base: str | None = None
        allow: list[int | str] = Field(default_factory=list)
        profile: str = "default"
        repo: str | None = None

    class Telegram(Platform):
        token_env: str = Field(default="TELEGRAM_BOT_TOKEN", pattern=ENV_NAME)

    class Discord(Platform):
        token_env: str = Field(default="DISCORD_BOT_TOKEN", pattern=ENV_NAME)
        gateway_url: str | None = None

    class Slack(Platform):
        bot_token_env: str = Field(default="SLACK_BOT_TOKEN", pattern=ENV_NAME)
        app_token_env: str = Field(default="SLACK_APP_TOKEN", pattern=ENV_NAME)

    class Gateway(Section):
        telegram: Telegram | None = None
        discord: Discord | None = None
        slack: Slack | None = None

    class Settings(Section):
        defaults: Defaults = Field(default_factory=Defaults)
        http: Http = Field(default_factory=Http)
        gateway: Gateway = Field(default_factory=Gateway)

    return Settings


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Config(Struct, frozen=True):
    """Where the state is and what the settings file says, read once per process.

    `data` is the settings as validated (JSON-shaped; only the keys the file gives);
    `settings` builds the typed model from it when a front door needs every default."""

    home: Path
    db_url: str
    path: Path  # the settings file (it may not exist: every key has a default)
    data: dict[str, Any]

    @property
    def settings(self) -> Any:
        """The settings as typed objects, every default filled in."""
        return _models().model_validate(self.data)

    @property
    def profile_defaults(self) -> dict[str, str]:
        """The agent settings the file gives profiles that do not set their own."""
        given = self.data.get("defaults") or {}
        return {str(k): str(v) for k, v in given.items() if v is not None}

    def load_profile(self, name: str) -> Profile:
        """The profile called `name`, with the settings' defaults filled in."""
        from profiles import load_profile

        return load_profile(name, self.home / "profiles", self.profile_defaults)

    def list_profiles(self) -> list[tuple[Profile, Path]]:
        """Every profile, with the settings' defaults filled in."""
        from profiles import list_profiles

        return list_profiles(self.home / "profiles", self.profile_defaults)

    def chat_platforms(self) -> dict[str, Any]:
        """Platform name -> its settings section, for those config.yaml sets up."""
        gateway = self.settings.gateway
        sections = {name: getattr(gateway, name) for name in CHAT_PLATFORMS}
        return {name: section for name, section in sections.items() if section is not None}

    def secret_names(self) -> set[str]:
        """The variables the settings name as holding secrets (tokens), defaults
        included: a platform configured without `token_env` still has one."""
        settings = self.settings
        names = {settings.http.token_env}
        for platform in ("telegram", "discord", "slack"):
            section = getattr(settings.gateway, platform)
            if section is not None:
                names |= {v for k, v in section.model_dump().items() if k.endswith("_env")}
        return {name for name in names if isinstance(name, str) and name}


_loaded: dict[tuple[str, str], Config] = {}


def load_config() -> Config:
    """The Config of this process (read on first use; an edit needs a new process)."""
    key = (os.environ.get("HERMES_HOME", ""), os.environ.get("HERMES_DB_URL", ""))
    if key not in _loaded:
        _loaded[key] = read_config(hermes_home(), board_url())
    return _loaded[key]


def read_config(home: Path, db_url: str) -> Config:
    """Read and validate `home/config.yaml` (absent: every default). Validation needs
    pydantic, a tenth of a second: a file validated before (same size, time and hermes
    version) is taken from the cache instead, so `board add` stays fast."""
    path = home / "config.yaml"
    try:
        stat = path.stat()
    except FileNotFoundError:
        return Config(home, db_url, path, {})
    except OSError as exc:
        raise InvalidInput(f"settings file {path}: cannot read it ({exc.strerror})") from exc
    stamp = [__version__, stat.st_mtime_ns, stat.st_size]
    cache = home / "cache" / "config.json"
    cached = _cached(cache, stamp)
    if cached is not None:
        return Config(home, db_url, path, cached)
    data = validate(path, _read(path))
    _store(cache, stamp, data)
    return Config(home, db_url, path, data)


def validate(path: Path, raw: dict[str, Any]) -> dict[str, Any]:
    """`raw` checked against the settings' schema; the keys it gives, normalised."""
    from pydantic import ValidationError

    model = _models()
    try:
        settings = model.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(_explain(path, exc, model)) from None
    data: dict[str, Any] = settings.model_dump(mode="json", exclude_unset=True)
    return data


def _cached(cache: Path, stamp: list[Any]) -> dict[str, Any] | None:
    try:
        entry = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(entry, dict) and entry.get("stamp") == stamp:
        data = entry.get("data")
        return data if isinstance(data, dict) else None
    return None


def _store(cache: Path, stamp: list[Any], data: dict[str, Any]) -> None:
    tmp = cache.with_name(f".{cache.name}.{os.getpid()}")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"stamp": stamp, "data": data}), encoding="utf-8")
        tmp.replace(cache)
    except OSError:
        tmp.unlink(missing_ok=True)  # best effort: the file is simply validated again


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InvalidInput(f"settings file {path}: cannot read it ({exc.strerror})") from exc
    except UnicodeDecodeError:
        raise InvalidInput(f"settings file {path}: not UTF-8 text; save it as UTF-8") from None
    import yaml

    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InvalidInput(f"settings file {path}: not valid YAML{where}; fix the syntax") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInput(
            f"settings file {path}: expected a mapping of settings (http: ..., gateway: ...), "
            f"found {type(raw).__name__}"
        )
    return raw


def _explain(path: Path, exc: Any, model: Any) -> str:
    """The first problem, as which key to change and how."""
    err = exc.errors()[0]
    parts = [str(p) for p in err["loc"] if not str(p).isdigit() or len(err["loc"]) == 1]
    key = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        known = _known_keys(model, [str(p) for p in err["loc"][:-1]])
        close = difflib.get_close_matches(str(err["loc"][-1]), known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"the keys here are {', '.join(known)}"
        return f"settings file {path}: {key!r} is not a setting; {hint}"
    message = str(err["msg"]).removeprefix("Value error, ")
    given = err.get("input")
    secret = bool(parts) and parts[-1].endswith("_env")
    shown = "" if secret or isinstance(given, dict | list) else f" (got {given!r})"
    if "pattern" in err["type"]:
        message = "give the name of an environment variable (e.g. HERMES_TOKEN), never a value"
    where = f"key {key!r}: " if key else ""
    return (
        f"settings file {path}: {where}{message}{shown}; "
        "fix the value or remove the key to use the default"
    )


def _known_keys(model: Any, path: list[str]) -> list[str]:
    for name in path:
        field = model.model_fields.get(name)
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", None)
        model = next((a for a in args if hasattr(a, "model_fields")), None) if args else annotation
        if model is None or not hasattr(model, "model_fields"):
            return []
    return sorted(model.model_fields)


def update_settings(path: Path, change: Callable[[dict[str, Any]], bool]) -> bool:
    """Apply `change` to the settings file's contents and write it back, validated first;
    `change` returns False when there was nothing to change (nothing is written)."""
    import yaml

    try:
        current = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"settings file {path}: cannot read it ({exc}); fix it first") from exc
    settings = dict(current or {})
    if not change(settings):
        return False
    validate(path, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    os.chmod(path, 0o600)
    return True
