"""`hermes approvals check`: the gate's verdict through the real command line, for the
whole corpus of destructive and ordinary commands, under a profile's own rules."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hermes.cli import main
from tests.conftest import Cli
from tests.gate_corpus import DESTRUCTIVE, LOW, ORDINARY

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace named `proj` and a HOME of its own, as the corpus expects."""
    workspace, home = tmp_path / "proj", tmp_path / "home"
    for folder in (workspace / "src", workspace / "sub", home / ".ssh"):
        folder.mkdir(parents=True)
    (home / ".bashrc").write_text("# bashrc\n")
    (home / ".gitconfig").write_text("[user]\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TMPDIR", "/tmp")
    return workspace


def check(
    capsys: pytest.CaptureFixture[str], command: str, workspace: Path, *extra: str
) -> dict[str, object]:
    """The verdict as `hermes approvals check --json` prints it (in this process: the
    corpus has hundreds of commands; a few tests below run the real subprocess)."""
    code = main(["approvals", "check", command, "--workspace", str(workspace), "--json", *extra])
    out = capsys.readouterr().out
    assert code == 0, out
    verdict: dict[str, object] = json.loads(out)
    return verdict


def test_every_destructive_command_is_held_and_no_ordinary_one(
    capsys: pytest.CaptureFixture[str], place: Path
) -> None:
    wrong = []
    for command, level in DESTRUCTIVE:
        verdict = check(capsys, command, place)
        if (verdict["level"], verdict["action"]) != (level, "ask"):
            wrong.append((command, verdict))
    for command in ORDINARY:
        verdict = check(capsys, command, place)
        if verdict != {"level": None, "reason": "nothing risky found", "action": "run"}:
            wrong.append((command, verdict))
    for command in LOW:
        verdict = check(capsys, command, place)
        if (verdict["level"], verdict["action"]) != ("low", "ask"):
            wrong.append((command, verdict))
    assert wrong == []


@pytest.mark.parametrize("page", ["security.md", "agents.md"])
def test_the_documented_figure_is_the_corpus(page: str) -> None:
    """The docs state how many commands of each kind the gate is tested on."""
    doc = (ROOT / "docs" / page).read_text(encoding="utf-8")
    held = re.search(r"holds \*\*(\d+) of (\d+)\*\* destructive", doc)
    ordinary = re.search(r"holds \*\*(\d+) of (\d+)\*\* ordinary", doc)
    assert held and ordinary
    assert (int(held[1]), int(held[2])) == (len(DESTRUCTIVE), len(DESTRUCTIVE))
    assert (int(ordinary[1]), int(ordinary[2])) == (0, len(ORDINARY))


def test_the_quoted_commands_through_the_real_command(cli: Cli, place: Path) -> None:
    for command in ("find / -delete", "git push -uf origin main", "rm -rf /tmp/../srv/x"):
        result = cli("approvals", "check", command, "--workspace", str(place), "--json")
        assert result.code == 0, result.err
        assert result.json()["level"] == "high" and result.json()["action"] == "ask"
    shown = cli("approvals", "check", "cd .. && rm -rf proj", "--workspace", str(place))
    assert shown.code == 0
    assert shown.out.startswith("high: rm -r of the workspace itself (proj -> ")
    assert "ask: waits for a human" in shown.out


def test_a_profiles_rules_and_modes(
    cli: Cli, hermes_home: Path, place: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (hermes_home / "profiles").mkdir(parents=True)
    (hermes_home / "profiles" / "ops.yaml").write_text(
        "runner: agent\n"
        "approvals:\n"
        "  mode: ask\n"
        '  allow: ["git push --force-with-lease origin hermes/*"]\n'
        '  ask: ["make deploy*"]\n'
        '  deny: ["*terraform destroy*"]\n'
    )
    (hermes_home / "profiles" / "yolo.yaml").write_text("runner: agent\napprovals: auto\n")
    (hermes_home / "profiles" / "strict.yaml").write_text("runner: agent\napprovals: deny\n")

    def verdict(command: str, profile: str) -> tuple[object, object]:
        found = check(capsys, command, place, "--profile", profile)
        return found["level"], found["action"]

    assert verdict("git push --force-with-lease origin hermes/card-3", "ops") == ("high", "run")
    assert verdict("git push --force-with-lease origin main", "ops") == ("high", "ask")
    assert verdict("make deploy-prod", "ops") == ("medium", "ask")
    assert verdict("cd infra && terraform destroy -auto-approve", "ops") == ("high", "refuse")
    assert verdict("pytest -q && make deploy", "ops") == ("medium", "ask")  # one of the commands
    assert verdict("git push -f origin main", "yolo") == ("high", "run")
    assert verdict("git push -f origin main", "strict") == ("high", "refuse")
    assert verdict("rm -rf /tmp/build-cache", "strict") == ("low", "run")
    assert verdict("rm -rf /tmp/build-cache", "default") == ("low", "ask")
    (hermes_home / "profiles" / "gitty.yaml").write_text(
        'runner: agent\napprovals: {allow: ["git *", "pytest*"]}\n'
    )
    assert verdict("git push -f origin main && pytest -q", "gitty") == ("high", "run")
    for smuggled in ("git status; rm -rf ~", "pytest; git push -f origin main; dd of=/dev/sda"):
        assert verdict(smuggled, "gitty")[1] == "ask", smuggled
    refused = check(capsys, "terraform destroy", place, "--profile", "ops")
    assert refused["reason"] == "matches this profile's deny rule '*terraform destroy*'"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["approvals", "check", "  "], "error: the command is empty; give the shell command"),
        (["approvals", "check", "ls", "--profile", "nope"], "error: unknown profile 'nope'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli: Cli, args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.code == 2 and result.err.startswith(message) and result.out == ""
    assert len(result.err.splitlines()) == 1
