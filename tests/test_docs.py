"""Documentation stays true: every command has help and a docs entry; the README opens
with the two commands; CI runs the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.main import get_command

from hermes.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
CLI_DOCS = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")


def walk(command: object, path: tuple[str, ...] = ("hermes",)) -> list[tuple[str, object]]:
    """Every command, named by its path. A hidden command (`goal new`, which runs as
    `hermes goal OBJECTIVE`) is documented under its group's name."""
    name = " ".join(path[:-1] if getattr(command, "hidden", False) else path)
    found = [(name, command)]
    for sub_name, sub in sorted(getattr(command, "commands", {}).items()):
        found += walk(sub, (*path, sub_name))
    return found


COMMANDS = walk(get_command(app))


def test_the_cli_has_the_contract_commands() -> None:
    names = {name for name, _ in COMMANDS}
    for expected in (
        "add",
        "list",
        "show",
        "dep add",
        "dep rm",
        "move",
        "cancel",
        "retry",
        "comment",
        "stats",
        "watch",
    ):
        assert f"hermes board {expected}" in names
    assert {"hermes profiles list", "hermes profiles show"} <= names


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_command_has_help_and_a_docs_entry(name: str, command: object) -> None:
    assert (getattr(command, "help", None) or "").strip(), f"{name} has no help text"
    if name != "hermes":
        assert re.search(rf"^#+ `{re.escape(name)}`$", CLI_DOCS, re.M), (
            f"{name} missing in docs/cli.md"
        )


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_option_is_documented(name: str, command: object) -> None:
    for param in getattr(command, "params", []):
        for opt in param.opts:
            if opt.startswith("--") and opt != "--help":
                assert opt in CLI_DOCS, f"{name} {opt} missing in docs/cli.md"
                assert (param.help or "").strip(), f"{name} {opt} has no help text"


def test_readme_opens_with_the_run_and_test_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert len(lines) == 2
    run, test = lines
    assert "pip install ." in run and "hermes " in run
    assert "pip install -e '.[test]'" in test and "pytest" in test


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```bash\n", 1)[1].split("```", 1)[0]
    readme_test = [line for line in block.splitlines() if line and not line.startswith("#")][1]
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert f'test_command="{readme_test}"' in script.splitlines()
    assert 'bash -euo pipefail -c "$test_command"' in script
    assert "ruff check" in script and "mypy" in script
