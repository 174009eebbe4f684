"""The skill library: folders with a `SKILL.md` (YAML front matter, then markdown).

Built-in skills ship in `skills/builtin/`; `$HERMES_HOME/skills/<name>/` adds a skill or
overrides the built-in of that name. Agents see only each skill's name and one-line
description until they ask for the body (`skill_view`): a long library costs a prompt
a line per skill, not its whole text. The format follows agentskills.io: `name`
(lowercase words joined by hyphens, the folder's name), `description`, and optionally
`version` and `tags`; reference files may sit beside `SKILL.md`.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hermes.errors import HermesError, NotFound, StorageError

BUILTIN_DIR = Path(__file__).parent / "builtin"
NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_DESCRIPTION = 1024
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SkillError(HermesError):
    """A skill is malformed; the message names the file and what to fix."""


@dataclass(frozen=True, slots=True)
class Skill:
    """One skill: its front matter, its body and where it lives."""

    name: str
    description: str
    body: str
    path: Path
    version: str | None = None
    tags: list[str] = field(default_factory=list)

    @property
    def builtin(self) -> bool:
        """Whether the skill ships with hermes."""
        return self.path.parent.parent == BUILTIN_DIR

    def references(self) -> list[str]:
        """Other files beside SKILL.md, relative to the skill's folder."""
        folder = self.path.parent
        return sorted(
            str(p.relative_to(folder))
            for p in folder.rglob("*")
            if p.is_file() and p.name != "SKILL.md"
        )

    def to_json(self, with_body: bool = False) -> dict[str, Any]:
        """The skill for `--json` output."""
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "tags": self.tags,
            "builtin": self.builtin,
            "path": str(self.path.parent),
        }
        if with_body:
            out["body"] = self.body
            out["references"] = self.references()
        return out


def skill_folders(user_dir: Path | None) -> dict[str, Path]:
    """Name -> folder for every skill; a user folder overrides the built-in of its name."""
    found: dict[str, Path] = {}
    for root in (BUILTIN_DIR, user_dir):
        if root is not None and root.is_dir():
            for folder in sorted(root.iterdir()):
                if not folder.name.startswith(".") and (folder / "SKILL.md").is_file():
                    found[folder.name] = folder
    return found


def read_skill(folder: Path) -> Skill:
    """Parse and validate `folder/SKILL.md`."""
    path = folder / "SKILL.md"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SkillError(f"skill file {path}: cannot read it ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise SkillError(f"skill file {path}: not UTF-8 text; save it as UTF-8") from exc
    match = re.match(r"---\r?\n(.*?)\r?\n---\r?\n?(.*)", text, re.S)
    if match is None:
        raise SkillError(f"skill file {path}: must start with front matter between '---' lines")
    try:
        meta = yaml.load(match[1], Loader=_Loader) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}, column {mark.column + 1}" if mark else ""  # after ---
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise SkillError(
            f"skill file {path}: front matter is not valid YAML{where} ({problem}); fix the syntax"
        ) from exc
    if not isinstance(meta, dict):
        raise SkillError(f"skill file {path}: front matter must be a mapping (name: ..., ...)")
    name, description = str(meta.get("name", "")), str(meta.get("description", "")).strip()
    check_name(name, path)
    if name != folder.name:
        raise SkillError(f"skill file {path}: name {name!r} must match its folder {folder.name!r}")
    check_description(description, path)
    tags = meta.get("tags") or []
    if not isinstance(tags, list):
        raise SkillError(f"skill file {path}: tags must be a list, e.g. tags: [git, review]")
    version = meta.get("version")
    return Skill(
        name,
        description,
        match[2].strip() + "\n",
        path,
        None if version is None else str(version),
        [str(t) for t in tags],
    )


def check_name(name: str, where: object) -> None:
    """Skill names are lowercase words joined by hyphens (the folder's name)."""
    if not NAME.fullmatch(name) or len(name) > 64:
        raise SkillError(
            f"{where}: skill name {name!r} must be lowercase letters, digits and single "
            "hyphens, at most 64 characters (e.g. 'write-release-notes')"
        )


def check_description(description: str, where: object) -> None:
    """A description is required and short: it is all an agent sees of a skill at first."""
    if not description or len(description) > MAX_DESCRIPTION:
        raise SkillError(
            f"{where}: description must be 1 to {MAX_DESCRIPTION} characters; "
            "say what the skill is for and when to use it"
        )


def list_skills(user_dir: Path | None) -> list[Skill]:
    """Every skill, sorted by name."""
    return [read_skill(folder) for _, folder in sorted(skill_folders(user_dir).items())]


def load_skill(name: str, user_dir: Path | None) -> Skill:
    """The skill called `name`, or an error listing the skills that exist."""
    folder = skill_folders(user_dir).get(name)
    if folder is None:
        known = ", ".join(sorted(skill_folders(user_dir))) or "none"
        raise NotFound(f"unknown skill {name!r}; skills: {known}")
    return read_skill(folder)


def index(user_dir: Path | None) -> str:
    """One line per skill, `- name: description`, for an agent's prompt."""
    return "\n".join(f"- {s.name}: {s.description}" for s in list_skills(user_dir))


def create_skill(user_dir: Path, name: str, description: str, body: str) -> Skill:
    """Write (or rewrite) a user skill; returns it as read back."""
    check_name(name, "skill")
    check_description(description.strip(), f"skill {name!r}")
    if not body.strip():
        raise SkillError(f"skill {name!r}: the body is empty; write the procedure itself")
    folder = user_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    meta = yaml.safe_dump(
        {"name": name, "description": description.strip()},
        sort_keys=False,
        allow_unicode=True,
        width=10**6,
    )
    (folder / "SKILL.md").write_text(f"---\n{meta}---\n\n{body.strip()}\n", encoding="utf-8")
    return read_skill(folder)


def remove_skill(user_dir: Path, name: str) -> Skill | None:
    """Remove one of the user's skills; returns the built-in it was hiding, if any."""
    folder = user_dir / name
    check_name(name, "the skill name")
    if not (folder / "SKILL.md").is_file():
        if name in skill_folders(None):
            raise SkillError(
                f"skill {name!r} is built in and cannot be removed; add your own of that "
                "name to replace it"
            )
        raise NotFound(f"there is no skill {name!r} of yours; see `hermes skills list`")
    try:
        shutil.rmtree(folder)
    except OSError as exc:
        raise StorageError(f"cannot remove {folder}: {exc.strerror or exc}") from exc
    builtin = skill_folders(None).get(name)
    return read_skill(builtin) if builtin else None


def add_skill(user_dir: Path, source: Path) -> Skill:
    """Copy a skill folder (validated first) into the user's library; a path to its
    SKILL.md names the folder too."""
    if source.name == "SKILL.md" and source.is_file():
        source = source.parent
    if not (source / "SKILL.md").is_file():
        raise SkillError(f"{source} has no SKILL.md; a skill is a folder with a SKILL.md inside")
    skill = read_skill(source)
    target = user_dir / skill.name
    if target.resolve() == source.resolve():
        return skill
    # Copy beside the target first: a full disk or a read-only home leaves the old skill.
    staging = user_dir / f".{skill.name}.adding"
    try:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(source, staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, shutil.Error) and exc.args and exc.args[0]:  # copytree's list
            _, where, reason = exc.args[0][0]
        else:
            where, reason = exc.filename or user_dir, exc.strerror or str(exc)
        raise StorageError(
            f"cannot copy skill {skill.name!r} to {where}: {reason}; "
            "check that HERMES_HOME is writable and its disk has free space"
        ) from exc
    return read_skill(target)
