"""Finding and validating profiles: built-ins shipped here, overridden by the user's files.

Every problem becomes a `ProfileError` naming the file, the field and the fix, because a
profile is usually written by hand and the person needs to know exactly what to change.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hermes.errors import ProfileError
from profiles.files import profile_file, profile_files
from profiles.model import Profile

#: Fields whose bad value may be a secret pasted by mistake: never echoed in errors.
SECRET_SHAPED = ("api_key_env", "env", "secret_env", "mcp_servers")

_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[misc]
    """The safe loader, refusing a field given twice (YAML would keep the last silently)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"{key_node.value!r} is given twice", key_node.start_mark
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep)


Defaults = Mapping[str, str]
#: What the settings file's `defaults` may give an agent profile that does not say.
DEFAULTABLE = ("model", "api_base", "api_key_env")


def load_profile(name: str, user_dir: Path | None, defaults: Defaults | None = None) -> Profile:
    """The validated profile called `name`, or an error listing the ones that exist."""
    return read_profile(profile_file(name, user_dir), defaults)


def list_profiles(
    user_dir: Path | None, defaults: Defaults | None = None
) -> list[tuple[Profile, Path]]:
    """Every profile, validated, with the file it comes from, sorted by name."""
    files = sorted(profile_files(user_dir).items())
    return [(read_profile(path, defaults), path) for _, path in files]


def read_profile(path: Path, defaults: Defaults | None = None) -> Profile:
    """Parse and validate one profile file; the file name is the profile's name. An agent
    profile that leaves out `model`, `api_base` or `api_key_env` takes `defaults`'."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except OSError as exc:
        raise ProfileError(f"profile file {path}: cannot read it ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise ProfileError(f"profile file {path}: not UTF-8 text; save it as UTF-8") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ProfileError(
            f"profile file {path}: not valid YAML{where} ({problem}); fix the syntax"
        ) from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ProfileError(
            f"profile file {path}: expected a mapping of fields (name: ..., runner: ...), "
            f"found {type(raw).__name__}"
        )
    raw["name"] = path.stem  # the file name wins over a `name:` inside it
    if raw.get("runner", "agent") == "agent":
        for key, value in (defaults or {}).items():
            if key in DEFAULTABLE:
                raw.setdefault(key, value)
    try:
        return Profile.model_validate(raw)
    except ValidationError as exc:
        raise ProfileError(_explain(path, exc)) from None


def _explain(path: Path, exc: ValidationError) -> str:
    """The first validation problem, phrased as what to change in which field."""
    err = exc.errors()[0]
    field = ".".join(str(part) for part in err["loc"])
    if err["type"] == "extra_forbidden":
        close = difflib.get_close_matches(field, list(Profile.model_fields), n=1)
        hint = f"did you mean {close[0]!r}?" if close else "remove it"
        return f"profile file {path}: {field!r} is not a profile field; {hint}"
    message = str(err["msg"]).removeprefix("Value error, ")
    if not field:
        return f"profile file {path}: {message}"
    got = "" if field.split(".")[0] in SECRET_SHAPED else f" (got {err.get('input')!r})"
    return (
        f"profile file {path}: field {field!r}: {message}{got}; "
        "fix the value or remove the field to use the default"
    )
