"""`hermes doctor`: what works here, keys named and never shown, exit 1 on a failure."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Cli
from workers.backends import probe


def checks(result_json: dict[str, object]) -> dict[str, dict[str, str]]:
    found = result_json["checks"]
    assert isinstance(found, list)
    return {check["name"]: check for check in found}


def test_doctor_names_keys_without_showing_them(cli: Cli, hermes_home: Path) -> None:
    result = cli("doctor", "--json", OPENAI_API_KEY="sk-doctor-secret-123")
    assert result.code == 0, result.err
    found = checks(result.json())
    assert found["profile default"]["status"] == "ok"
    assert "OPENAI_API_KEY set" in found["profile default"]["detail"]
    assert "sk-doctor-secret-123" not in result.out
    assert found["git"]["status"] == "ok" and found["board"]["status"] == "ok"
    sandbox = found["sandbox"]
    assert sandbox["status"] == ("ok" if probe() is None else "warn")
    missing = cli("doctor", "--json")
    assert checks(missing.json())["profile default"]["detail"] == (
        "model openai/gpt-4o-mini: set OPENAI_API_KEY (not set), or choose another model "
        "with `hermes init`"
    )


def test_a_broken_profile_fails_the_doctor_and_says_why(cli: Cli, hermes_home: Path) -> None:
    (hermes_home / "profiles").mkdir(parents=True)
    (hermes_home / "profiles" / "bad.yaml").write_text("runner: agent\nconcurency: 3\n")
    result = cli("doctor")
    assert result.code == 1
    line = next(line for line in result.out.splitlines() if "profile bad" in line)
    assert line.startswith("fail") and "did you mean 'concurrency'?" in line


def test_the_doctor_tightens_a_home_others_could_read(cli: Cli, hermes_home: Path) -> None:
    hermes_home.mkdir(mode=0o755)
    hermes_home.chmod(0o755)
    result = cli("doctor", "--json")
    assert checks(result.json())["home"]["detail"].endswith("was readable by others (755): now 700")
    assert hermes_home.stat().st_mode & 0o777 == 0o700
