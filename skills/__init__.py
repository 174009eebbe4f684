"""The skill library: reusable procedures agents read on demand and add to.

Built-in skills ship in `skills/builtin/`; `$HERMES_HOME/skills/` adds or overrides.
"""

from skills.library import (
    BUILTIN_DIR,
    Skill,
    SkillError,
    add_skill,
    create_skill,
    index,
    list_skills,
    load_skill,
    remove_skill,
)

__all__ = [
    "BUILTIN_DIR",
    "Skill",
    "SkillError",
    "add_skill",
    "create_skill",
    "index",
    "list_skills",
    "load_skill",
    "remove_skill",
]
