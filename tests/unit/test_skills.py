"""The skill library: built-ins, your own, and errors that say what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from hermes.errors import NotFound
from skills import SkillError, add_skill, create_skill, index, list_skills, load_skill


def test_builtin_skills_are_valid_and_indexed(tmp_path: Path) -> None:
    names = [s.name for s in list_skills(tmp_path)]
    assert names == ["card-in-worktree", "result-summary", "split-work"]
    assert all(s.builtin for s in list_skills(tmp_path))
    assert index(tmp_path).startswith("- card-in-worktree: ")
    assert "Changed" in load_skill("result-summary", tmp_path).body


def test_create_then_override_and_read_back(tmp_path: Path) -> None:
    skill = create_skill(
        tmp_path, "release-notes", "How to write release notes.", "1. Read the log."
    )
    assert skill.path == tmp_path / "release-notes" / "SKILL.md"
    assert load_skill("release-notes", tmp_path).body == "1. Read the log.\n"
    create_skill(tmp_path, "result-summary", "Our house style.", "Be brief.")
    overridden = load_skill("result-summary", tmp_path)
    assert (overridden.description, overridden.builtin) == ("Our house style.", False)


@pytest.mark.parametrize(
    ("name", "description", "body", "message"),
    [
        ("Bad Name", "d", "b", "must be lowercase letters"),
        ("ok", "", "b", "description must be 1 to"),
        ("ok", "d", "  ", "the body is empty"),
    ],
)
def test_invalid_skills_are_refused(
    tmp_path: Path, name: str, description: str, body: str, message: str
) -> None:
    with pytest.raises(SkillError, match=message):
        create_skill(tmp_path, name, description, body)


def test_malformed_files_name_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "SKILL.md").write_text("no front matter here")
    with pytest.raises(
        SkillError, match=f"skill file {folder / 'SKILL.md'}: must start with front matter"
    ):
        list_skills(tmp_path)
    (folder / "SKILL.md").write_text("---\nname: other\ndescription: x\n---\nbody")
    with pytest.raises(SkillError, match="must match its folder 'broken'"):
        list_skills(tmp_path)


def test_add_copies_a_valid_folder(tmp_path: Path) -> None:
    source = tmp_path / "src" / "deploy-check"
    source.mkdir(parents=True)
    (source / "SKILL.md").write_text(
        "---\nname: deploy-check\ndescription: Check a deploy.\n---\nSteps."
    )
    (source / "checklist.txt").write_text("1. health")
    library = tmp_path / "library"
    skill = add_skill(library, source)
    assert skill.path.parent == library / "deploy-check"
    assert skill.references() == ["checklist.txt"]
    with pytest.raises(SkillError, match=r"has no SKILL\.md"):
        add_skill(library, tmp_path)
    with pytest.raises(NotFound, match="unknown skill 'nope'"):
        load_skill("nope", library)
