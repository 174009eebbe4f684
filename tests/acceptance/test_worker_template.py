"""The worker template reads the profiles and the settings once for all the workers it
forks, and again when one of those files changes: a profile edited while the dispatcher
runs applies to the next card (its secrets kept out and masked, its fields used). A light
worker works one card after another; its exit ends the run it was working, never one it
finished before, and a worker whose run was taken from it works no other."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from board import Store, open_store
from tests.conftest import Cli, add
from tests.helpers.processes import FAST, dispatcher, gone, local_shell, wait_until

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


def pids(store: Store, card: int) -> list[int | None]:
    """The worker pid of each of the card's runs."""
    return [run.pid for run in store.detail(card).runs]


def done(store: Store, card: int) -> bool:
    return store.card(card).status == "done"


def test_a_light_worker_works_one_card_after_another_and_goes_with_its_dispatcher(
    cli: Cli, db_url: str, hermes_home: Path
) -> None:
    shell = local_shell(hermes_home)
    with dispatcher(*FAST, "--concurrency", "1") as proc, open_store(db_url) as store:
        first = add(cli, "first", "--profile", shell, "--body", "echo one")
        wait_until(lambda: done(store, first))
        failing = add(cli, "failing", "--profile", shell, "--max-attempts", "1", "--body", "exit 7")
        wait_until(lambda: store.card(failing).status == "failed")
        last = add(cli, "last", "--profile", shell, "--body", "echo three")
        wait_until(lambda: done(store, last))
        (worker,) = set(pids(store, first) + pids(store, failing) + pids(store, last))
        assert worker is not None and not gone(worker)  # one process, free for the next card
        assert [store.card(c).result for c in (first, last)] == ["one\n", "three\n"]
        assert proc.poll() is None
    wait_until(lambda: gone(worker), timeout=5)  # it went with the dispatcher


def test_kill_9_of_a_worker_ends_the_run_it_was_working_not_the_one_before(
    cli: Cli, db_url: str, hermes_home: Path
) -> None:
    shell = local_shell(hermes_home)
    body = "if [ -e first ]; then echo again; else touch first; sleep 30; fi"
    settings = (*FAST, "--concurrency", "1", "--lease", "30")
    with dispatcher(*settings) as proc, open_store(db_url) as store:
        before = add(cli, "before", "--profile", shell, "--body", "echo before")
        wait_until(lambda: done(store, before))
        card = add(cli, "killed", "--profile", shell, "--body", body)
        wait_until(lambda: (Path(store.card(card).worktree or "/nonexistent") / "first").exists())
        (worker,) = pids(store, card)
        assert [worker] == pids(store, before) and worker is not None  # the same worker
        os.kill(worker, signal.SIGKILL)
        wait_until(lambda: done(store, card), timeout=10)
        runs = store.detail(card).runs
        assert [r.outcome for r in runs] == ["reclaimed", "done"]
        assert "killed by SIGKILL" in (runs[0].error or "")
        assert runs[1].pid != worker  # a fresh worker took the retry
        assert [r.outcome for r in store.detail(before).runs] == ["done"]
        assert store.card(card).result == "again\n"
        assert proc.poll() is None


def test_a_worker_whose_card_was_cancelled_works_no_other(
    cli: Cli, db_url: str, hermes_home: Path
) -> None:
    shell = local_shell(hermes_home)
    with (
        dispatcher(*FAST, "--concurrency", "1", "--heartbeat", "5", "--lease", "30") as proc,
        open_store(db_url) as store,
    ):
        first = add(cli, "first", "--profile", shell, "--body", "echo one")
        wait_until(lambda: done(store, first))
        long = add(cli, "long", "--profile", shell, "--body", "sleep 30")
        wait_until(lambda: store.detail(long).runs and store.detail(long).runs[0].runner_pid)
        (worker,) = pids(store, long)
        assert [worker] == pids(store, first)  # the same worker took it
        assert cli("board", "cancel", str(long)).code == 0
        wait_until(lambda: worker is not None and gone(worker), timeout=3)
        after = add(cli, "after", "--profile", shell, "--body", "echo after")
        wait_until(lambda: done(store, after))
        assert pids(store, after) != [worker]
        assert proc.poll() is None


def test_card_work_in_a_reused_worker_holds_none_of_the_templates_pipes(
    cli: Cli, db_url: str, hermes_home: Path
) -> None:
    """The pipes a worker talks to its template on (its jobs, the shared `finished`
    pipe) stay in hermes: a card's command, even run by a worker that worked cards
    before, has only its standard streams, so it cannot hand a worker a job or tell the
    template a run ended."""
    shell = local_shell(hermes_home)
    with dispatcher(*FAST, "--concurrency", "1"), open_store(db_url) as store:
        cards = [
            add(cli, f"fds {n}", "--profile", shell, "--body", "ls /proc/self/fd") for n in (1, 2)
        ]
        wait_until(lambda: all(done(store, card) for card in cards))
        assert pids(store, cards[0]) == pids(store, cards[1])  # the second in a reused worker
        for card in cards:
            # 0-2, and the folder `ls` opened to list them
            assert (store.card(card).result or "").split() == ["0", "1", "2", "3"]
