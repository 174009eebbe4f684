"""The worker template reads the profiles and the settings once for all the workers it
forks, and again when one of those files changes: a profile edited while the dispatcher
runs applies to the next card (its secrets kept out and masked, its fields used)."""

from __future__ import annotations

import os
from pathlib import Path

from board import open_store
from tests.conftest import Cli, add
from tests.helpers.processes import FAST, dispatcher, wait_until

PHRASE = "open-sesame-4471"
BODY = 'echo "phrase=${DEPLOY_PHRASE:-unset}"; env | grep -c open-sesame || true'


def edit(profile: Path, text: str, edits: list[int]) -> None:
    """Rewrite a profile, its time moved past the last edit's whatever the clock says."""
    profile.write_text(f"runner: command\nbackend: local\n{text}")
    edits.append(len(edits) + 1)
    later = profile.stat().st_mtime_ns + edits[-1] * 10**9
    os.utime(profile, ns=(later, later))


def test_a_profile_edited_while_the_dispatcher_runs_applies_to_the_next_card(
    cli: Cli, db_url: str, hermes_home: Path
) -> None:
    profile = hermes_home / "profiles" / "plain.yaml"
    profile.parent.mkdir(parents=True, exist_ok=True)
    edits: list[int] = []
    edit(profile, "", edits)
    env = {"DEPLOY_PHRASE": PHRASE}  # its name does not say it is a secret
    with dispatcher(*FAST, env=env), open_store(db_url) as store:

        def result(title: str) -> str | None:
            card = add(cli, title, "--profile", "plain", "--body", BODY)
            wait_until(lambda: store.card(card).status == "done")
            return store.card(card).result

        assert result("before") == f"phrase={PHRASE}\n1\n"  # not a secret yet
        edit(profile, "secret_env: [DEPLOY_PHRASE]\n", edits)
        assert result("kept out") == "phrase=unset\n0\n"
        edit(profile, "secret_env: [DEPLOY_PHRASE]\nenv: [DEPLOY_PHRASE]\n", edits)
        assert result("passed") == "phrase=***\n1\n"  # passed on purpose, still masked
