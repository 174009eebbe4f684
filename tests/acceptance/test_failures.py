"""Failures that retrying cannot fix end the card at once, with the fix in the error;
those that may pass (a provider's outage) are retried."""

from __future__ import annotations

from pathlib import Path

import pytest

from board import open_store
from tests.conftest import Cli
from tests.helpers.agents import KEY_ENV, add_card, agent_profile, serve
from tests.helpers.processes import FAST, finish, make_repo, start_dispatcher
from workers.agent.fake_openai import FakeOpenAI


@pytest.fixture(autouse=True)
def model_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")


def runs(db_url: str, card: int) -> list[tuple[str, str | None]]:
    with open_store(db_url) as store:
        detail = store.detail(card)
        assert detail.card.status == "failed", detail.card.status
        return [(run.outcome, run.error) for run in detail.runs]


def test_permanent_failures_fail_at_once_and_passing_ones_are_retried(
    cli: Cli,
    model: list[FakeOpenAI],
    hermes_home: Path,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = serve(
        model,
        [
            {"when": "Wrong key", "status": 401, "text": "Incorrect API key provided"},
            *[{"when": "Outage", "status": 503, "text": "overloaded"} for _ in range(3)],
        ],
    )
    three = ("--max-attempts", "3", "--no-repo")
    agent_profile(hermes_home, "bot", server.url, max_attempts=3)
    agent_profile(hermes_home, "keyless", server.url, api_key_env="HERMES_TEST_NO_SUCH_KEY")
    agent_profile(hermes_home, "doomed", server.url)
    wrong_key = add_card(cli, "Wrong key", "--profile", "bot", *three)
    outage = add_card(cli, "Outage", "--profile", "bot", *three)
    keyless = add_card(cli, "No key", "--profile", "keyless", *three)
    gone = add_card(cli, "Profile deleted", "--profile", "doomed", *three)
    (hermes_home / "profiles" / "doomed.yaml").unlink()
    repo = make_repo(tmp_path / "proj")
    base = add_card(cli, "base", "--profile", "shell", "--body", "echo a > f.txt", cwd=repo)
    sides = [
        add_card(cli, side, "--profile", "shell", "--body", f"echo {side} > f.txt",
                 "--after", str(base), cwd=repo)
        for side in ("left", "right")
    ]  # fmt: skip
    join = add_card(
        cli, "join", "--profile", "shell", "--body", "true", "--max-attempts", "3",
        *(arg for side in sides for arg in ("--after", str(side))), cwd=repo,
    )  # fmt: skip
    code, out = finish(start_dispatcher("--until-idle", *FAST), 90)
    assert code == 0, out
    (error,) = [e for _, e in runs(db_url, wrong_key)]
    assert "Incorrect API key" in (error or "") and f"check the key in {KEY_ENV}" in (error or "")
    assert len(runs(db_url, outage)) == 3  # a provider's outage may pass: every attempt used
    assert runs(db_url, keyless) == [
        ("failed", "set HERMES_TEST_NO_SUCH_KEY (profile 'keyless', model openai/gpt-4o-mini)")
    ]
    ((_, missing),) = runs(db_url, gone)
    assert (missing or "").startswith("unknown profile 'doomed'; use one of:")
    ((_, conflict),) = runs(db_url, join)
    assert f"merge conflict merging hermes/card-{sides[1]}: f.txt" in (conflict or "")
    assert "merge their branches by hand (or make one depend on the other)" in (conflict or "")
