"""What the sandbox puts back of a hidden home: toolchains, never secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.backends import mounts


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    for folder in (
        ".pyenv/shims", ".pyenv/versions/3.12/bin", ".cargo/bin", ".local/bin",
        ".local/share/keyrings", ".ssh", "code/proj/.venv/bin", "code/other", "bin",
        "node_modules/.bin",
    ):  # fmt: skip
        (home / folder).mkdir(parents=True)
    (home / ".cargo" / "credentials.toml").write_text("token = 'x'\n")
    (home / "code" / "proj" / ".venv" / "pyvenv.cfg").write_text("home = /usr\n")
    (home / "code" / "other" / ".env").write_text("SECRET=1\n")
    return home


def exposed(home: Path, *entries: str) -> list[Path]:
    path = ":".join(str(home / entry) for entry in entries)
    return [p for p in mounts.exposed(home, {"PATH": path}, ()) if p.is_relative_to(home)]


def test_a_toolchain_comes_back_whole(home: Path) -> None:
    assert exposed(home, ".pyenv/shims") == [home / ".pyenv"]
    assert exposed(home, ".cargo/bin") == [home / ".cargo"]
    assert exposed(home, ".local/bin") == [home / ".local" / "bin"]


def test_other_path_entries_come_back_alone(home: Path) -> None:
    """Not the folder around them: ~/code holds other projects and their secrets."""
    assert exposed(home, "code/proj/.venv/bin") == [home / "code" / "proj" / ".venv"]
    assert exposed(home, "bin") == [home / "bin"]
    assert exposed(home, "node_modules/.bin") == [home / "node_modules" / ".bin"]


def test_secret_places_never_come_back(home: Path) -> None:
    assert exposed(home, ".ssh", ".local/share/keyrings", "", ".local") == []


def test_credential_files_inside_a_toolchain_are_covered(home: Path) -> None:
    back = exposed(home, ".cargo/bin", ".pyenv/shims")
    assert mounts.covered(back, home) == [home / ".cargo" / "credentials.toml"]


def test_hidden_places_are_listed_parents_first(home: Path, tmp_path: Path) -> None:
    places = mounts.hidden(home, (tmp_path / "hermes",))
    assert places.index(Path("/tmp").resolve()) < places.index(home.resolve())
    assert (tmp_path / "hermes").resolve() not in places  # it does not exist: nothing to hide
