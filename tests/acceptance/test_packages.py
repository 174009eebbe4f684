"""hermes refuses to run, saying why, when another distribution's package hides one of
its generic top-level packages."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Cli


def test_a_shadowed_package_is_named_with_the_fix(cli: Cli, tmp_path: Path) -> None:
    other = tmp_path / "site"
    (other / "board").mkdir(parents=True)
    (other / "board" / "__init__.py").write_text("NOT_HERMES = True\n")
    result = cli("board", "list", PYTHONPATH=str(other))
    assert result.code == 1 and result.out == ""
    assert result.err.startswith(
        f"error: the package 'board' that Python finds ({other / 'board'})"
    )
    assert "install hermes in an environment of its own: uv tool install" in result.err
    assert cli("board", "list").code == 0
