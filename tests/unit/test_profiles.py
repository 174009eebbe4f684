"""Profiles: built-ins, user overrides, the cache, and errors naming file, field and fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hermes.errors import NotFound, ProfileError
from profiles import BUILTIN_DIR, card_defaults, list_profiles, load_profile, read_profile
from profiles.cache import profile_fields


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    path = tmp_path / "profiles"
    path.mkdir()
    return path


def write(user_dir: Path, name: str, text: str) -> Path:
    path = user_dir / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_builtins_are_valid_and_as_the_contract_says(user_dir: Path) -> None:
    profiles = {p.name: p for p, _ in list_profiles(user_dir)}
    assert set(profiles) == {"default", "shell", "planner", "reviewer", "claude", "codex", "aider"}
    assert {profiles[n].runner for n in ("claude", "codex", "aider")} == {"cli"}
    assert profiles["default"].runner == "agent"
    assert profiles["shell"].runner == "command"
    assert profiles["planner"].runner == "agent"
    assert profiles["reviewer"].review is True
    assert all(path.parent == BUILTIN_DIR for _, path in list_profiles(user_dir))


def test_user_profile_adds_and_overrides(user_dir: Path) -> None:
    write(user_dir, "shell", "runner: command\nconcurrency: 9\n")
    write(user_dir, "claude", 'runner: cli\ncommand: ["claude", "-p", "{prompt}"]\n')
    assert load_profile("shell", user_dir).concurrency == 9
    assert load_profile("claude", user_dir).command == ["claude", "-p", "{prompt}"]


def test_file_name_wins_over_name_field(user_dir: Path) -> None:
    write(user_dir, "fast", "name: slow\nrunner: command\n")
    assert load_profile("fast", user_dir).name == "fast"


def test_unknown_profile_lists_what_exists(user_dir: Path) -> None:
    with pytest.raises(NotFound) as caught:
        load_profile("nope", user_dir)
    message = str(caught.value)
    assert "unknown profile 'nope'" in message
    assert "default, planner, reviewer, shell" in message
    assert str(user_dir / "nope.yaml") in message


@pytest.mark.parametrize("name", ["../default", "a/b", ".hidden", ""])
def test_profile_names_cannot_escape_the_directory(user_dir: Path, name: str) -> None:
    with pytest.raises(NotFound):
        load_profile(name, user_dir)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("concurency: 3\n", "'concurency' is not a profile field; did you mean 'concurrency'?"),
        ("concurrency: -1\n", "field 'concurrency': Input should be greater than or equal to 1"),
        ("runner: robot\n", "field 'runner'"),
        ("timeout: soon\n", "field 'timeout'"),
        ("tools: [shell, teleport]\n", "field 'tools.1'"),
        ("runner: cli\n", "runner 'cli' needs `command`"),
        ("runner: [\n", "not valid YAML at line 2"),
        ("- runner\n", "expected a mapping of fields"),
        (
            "model: llama3\napi_base: http://127.0.0.1:8000/v1\n",
            "`model` needs its provider: write openai/llama3 for an OpenAI-compatible server",
        ),
        ("api_key_env: sk-live-1234\n", "field 'api_key_env': give the name of the variable"),
        ("env: [GOOD, 'sk live']\n", "field 'env': list variable names (e.g. GITHUB_TOKEN)"),
        ("backend: {kind: moon}\n", "field 'backend.kind'"),
        ("approvals: {mode: maybe}\n", "field 'approvals.mode'"),
    ],
)
def test_invalid_profiles_name_file_field_and_fix(user_dir: Path, text: str, expected: str) -> None:
    path = write(user_dir, "broken", text)
    with pytest.raises(ProfileError) as caught:
        read_profile(path)
    message = str(caught.value)
    assert message.startswith(f"profile file {path}: ")
    assert expected in message
    assert "sk-live-1234" not in message and "sk live" not in message  # never echoed


def test_empty_file_is_a_profile_with_defaults(user_dir: Path) -> None:
    assert read_profile(write(user_dir, "plain", "")).runner == "agent"


def test_card_defaults_come_from_the_profile(user_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.json"
    write(user_dir, "ci", "runner: command\nmax_attempts: 5\ntimeout: 30\n")
    defaults = card_defaults("ci", user_dir, cache)
    assert (defaults.name, defaults.max_attempts, defaults.timeout) == ("ci", 5, 30.0)
    assert cache.exists()


def test_an_edited_profile_is_validated_again(user_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.json"
    path = write(user_dir, "ci", "runner: command\n")
    card_defaults("ci", user_dir, cache)
    path.write_text("runner: command\nmax_attempts: 0\n", encoding="utf-8")
    with pytest.raises(ProfileError, match="max_attempts"):
        card_defaults("ci", user_dir, cache)


def test_listed_fields_are_the_models_and_a_broken_file_says_why(
    user_dir: Path, tmp_path: Path
) -> None:
    """`profiles list` reads every profile through the cache: each is what the model
    gives, and a file edited into a broken one is reported, the others still listed."""
    cache = tmp_path / "cache.json"
    good = write(user_dir, "ci", "runner: command\nmax_attempts: 5\n")
    bad = write(user_dir, "bad", "runner: command\n")
    first = profile_fields([good, bad], cache)
    assert first[good] == read_profile(good).model_dump(mode="json")
    bad.write_text("runner: command\nmax_attempts: 0\n", encoding="utf-8")
    second = profile_fields([good, bad], cache)
    assert second[good] == first[good]
    assert isinstance(second[bad], ProfileError) and "max_attempts" in str(second[bad])


def test_a_corrupt_cache_is_ignored(user_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.json"
    cache.write_text("{not json", encoding="utf-8")
    assert card_defaults("shell", user_dir, cache).max_attempts == 3


def test_a_cache_hit_does_not_import_pydantic_or_yaml(user_dir: Path, tmp_path: Path) -> None:
    """The point of the cache: `board add` skips the ~0.1 s pydantic import."""
    script = (
        "import sys; from pathlib import Path; from profiles import card_defaults; "
        f"card_defaults('shell', Path({str(user_dir)!r}), Path({str(tmp_path / 'c.json')!r})); "
        "print(sorted(m for m in ('pydantic', 'yaml') if m in sys.modules))"
    )
    first = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    second = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert first.stdout.strip() == "['pydantic', 'yaml']", first.stderr
    assert second.stdout.strip() == "[]", second.stderr
