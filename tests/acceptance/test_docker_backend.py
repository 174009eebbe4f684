"""The docker backend through a real dispatcher and a real, private docker daemon (its
own socket and data, no host networking touched), with a tiny image built offline:
command cards and an agent's shell in a container, files owned by the user, the network
off, no secrets inside; deadlines, lost leases and a crashed dispatcher's orphans."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from board import Store, open_store
from board.clock import parse_iso
from profiles.model import BackendSpec
from tests.conftest import Cli
from tests.helpers.agents import (
    KEY_ENV,
    add_card,
    agent_profile,
    call,
    run_context,
    tool_results,
)
from tests.helpers.dockerd import NoDocker, build_image, private_daemon
from tests.helpers.processes import FAST, finish, git, make_repo, start_dispatcher, wait_until
from workers.agent.fake_openai import FakeOpenAI
from workers.backends import BackendUnavailable, backend_for, board_tag, release

docker = pytest.importorskip("docker")

KEY = "sk-live-7f3a9c2e4b1d8f6a0c5e"


@pytest.fixture(scope="session")
def daemon() -> Iterator[tuple[str, str]]:
    """(DOCKER_HOST, image) of a private daemon started once per test session: once per
    xdist worker that runs these tests (a few seconds each; grouping them onto one worker
    with `--dist loadgroup` does not take with pytest 9 and xdist 3.8)."""
    try:
        with private_daemon() as host:
            yield host, build_image(host)
    except NoDocker as exc:
        pytest.skip(f"no docker daemon here: {exc}")


@pytest.fixture
def docker_host(daemon: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DOCKER_HOST", daemon[0])
    monkeypatch.setenv(KEY_ENV, "sk-test")
    return daemon[0]


def profile_file(home: Path, name: str, text: str) -> None:
    (home / "profiles").mkdir(parents=True, exist_ok=True)
    (home / "profiles" / f"{name}.yaml").write_text(text)


def boxed(home: Path, image: str, name: str = "boxed", extra: str = "") -> str:
    profile_file(home, name, f"runner: command\nbackend: {{kind: docker, image: {image}}}\n{extra}")
    return name


def containers(host: str, **labels: Any) -> list[dict[str, str]]:
    """The labels of the containers that have all of `labels` (`hermes_card` for
    `hermes.card`...)."""
    client = docker.DockerClient(base_url=host)
    try:
        wanted = [f"{key.replace('_', '.')}={value}" for key, value in labels.items()]
        listed = client.containers.list(all=True, sparse=True, filters={"label": wanted})
        return [container.attrs.get("Labels") or {} for container in listed]
    finally:
        client.close()


ENVIRONMENT = "id -u; id -g; ls /sys/class/net; env; echo made > made.txt; echo done-here"


def check_inside(output: str) -> None:
    """What ENVIRONMENT printed shows the user's uid:gid, no network, no secrets."""
    lines = output.splitlines()
    assert "done-here" in lines, output
    assert lines[lines.index("lo") - 2 : lines.index("lo")] == [
        str(os.getuid()),
        str(os.getgid()),
    ]  # the user's uid and gid
    assert lines[lines.index("lo") + 1].startswith(("HOSTNAME=", "HERMES_", "HOME=", "PATH="))
    for absent in ("OPENAI_API_KEY", "GITHUB_TOKEN", "***", KEY_ENV, str(Path.home())):
        assert absent not in output, (absent, output)


def test_a_command_card_runs_in_a_container_as_the_user_offline_without_secrets(
    cli: Cli, hermes_home: Path, db_url: str, docker_host: str, daemon: tuple[str, str],
    tmp_path: Path,
) -> None:  # fmt: skip
    repo = make_repo(tmp_path / "repo")
    boxed(hermes_home, daemon[1])
    card = add_card(cli, "In a box", "--profile", "boxed", "--body", ENVIRONMENT, cwd=repo)
    env = {"OPENAI_API_KEY": KEY, "GITHUB_TOKEN": "ghp_abcdefghijklmnop"}
    code, out = finish(start_dispatcher("--until-idle", *FAST, env=env), 90)
    assert code == 0, out
    with open_store(db_url) as store:
        shell = store.card(card)
    assert shell.status == "done", shell
    check_inside(shell.result or "")
    made = Path(shell.worktree or "") / "made.txt"
    assert made.stat().st_uid == os.getuid() and made.stat().st_gid == os.getgid()
    assert git(repo, "show", f"hermes/card-{card}:made.txt") == "made"
    assert containers(docker_host, hermes_board=board_tag(db_url)) == []  # all removed


def test_an_agents_shell_runs_in_a_container(
    store: Store, hermes_home: Path, docker_host: str, daemon: tuple[str, str],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from workers.runners.agent import AgentRunner

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_abcdefghijklmnop")
    script = [{"tool_calls": [call("shell", command=ENVIRONMENT)]}, {"text": "looked"}]
    with FakeOpenAI(script) as model:
        backend = {"kind": "docker", "image": daemon[1]}
        name = agent_profile(hermes_home, "agentbox", model.url, backend=backend)
        ctx = run_context(store, hermes_home, name, tmp_path / "ws")
        try:
            outcome = AgentRunner().run(ctx)
        finally:
            release()  # the backend's docker client
        told = tool_results(model.requests[-1])
    assert outcome.ok and outcome.result == "looked", outcome
    assert told[0].startswith("exit code 0"), told
    check_inside(told[0])
    assert (tmp_path / "ws" / "made.txt").stat().st_uid == os.getuid()


def test_a_deadline_and_a_lost_lease_end_the_container_within_a_second(
    cli: Cli, hermes_home: Path, db_url: str, docker_host: str, daemon: tuple[str, str]
) -> None:
    boxed(hermes_home, daemon[1])
    sleepy = add_card(
        cli, "Sleepy", "--profile", "boxed", "--body", "sleep 30", "--timeout", "2",
        "--max-attempts", "1", "--no-repo",
    )  # fmt: skip
    doomed = add_card(cli, "Doomed", "--profile", "boxed", "--body", "sleep 30", "--no-repo")
    proc = start_dispatcher(*FAST, "--concurrency", "2")
    try:
        with open_store(db_url) as store:
            wait_until(lambda: containers(docker_host, hermes_card=doomed), timeout=30)
            assert cli("board", "cancel", str(doomed)).code == 0
            cancelled_at = time.monotonic()  # (the command's own start-up not counted)
            wait_until(lambda: not containers(docker_host, hermes_card=doomed), timeout=5)
            assert time.monotonic() - cancelled_at < 0.3 + 1.5  # a heartbeat + under a second
            wait_until(lambda: store.card(sleepy).status == "failed", timeout=30)
            run = store.detail(sleepy).runs[-1]
            assert run.outcome == "timeout" and run.started_at and run.ended_at
            took = (parse_iso(run.ended_at) - parse_iso(run.started_at)).total_seconds()
            assert took < 3, took
            assert containers(docker_host, hermes_card=sleepy) == []
    finally:
        proc.send_signal(signal.SIGTERM)
        finish(proc, 30)


def test_a_restarted_dispatcher_removes_the_orphan_container_and_retries_the_card(
    cli: Cli, hermes_home: Path, db_url: str, docker_host: str, daemon: tuple[str, str]
) -> None:
    boxed(hermes_home, daemon[1])
    card = add_card(
        cli, "Survivor", "--profile", "boxed", "--no-repo",
        "--body", 'if [ -f tried ]; then echo second-try; else touch tried; sleep 60; fi',
    )  # fmt: skip
    first = start_dispatcher(*FAST)
    with open_store(db_url) as store:
        found = wait_until(lambda: containers(docker_host, hermes_card=card), timeout=30)
        wait_until(lambda: (hermes_home / "workspaces" / f"card-{card}" / "tried").exists())
        run = store.detail(card).runs[-1]
        assert run.pid is not None and found[0]["hermes.run"] == str(run.id)
        os.killpg(first.pid, signal.SIGKILL)  # the dispatcher and its template
        os.kill(run.pid, signal.SIGKILL)  # and the worker: the container is an orphan
        finish(first)
        assert containers(docker_host, hermes_card=card)  # nothing removed it yet
        code, out = finish(start_dispatcher("--until-idle", *FAST), 60)
        assert code == 0, out
        assert "removed orphan container" in out and f"(run {run.id})" in out, out
        detail = store.detail(card)
    assert [r.outcome for r in detail.runs] == ["reclaimed", "done"]
    assert "second-try" in (detail.card.result or "")
    assert containers(docker_host, hermes_card=card) == []


def test_a_missing_image_or_daemon_is_a_permanent_error_saying_what_to_do(
    docker_host: str, tmp_path: Path
) -> None:
    """Permanent: the worker fails the card at once (the path test_backend_setup.py
    follows through a dispatcher for an ssh host)."""
    missing = BackendSpec(kind="docker", image="hermes-test/missing:1")
    with pytest.raises(BackendUnavailable) as no_image:
        backend_for(missing)
    assert not no_image.value.retryable
    assert f"image 'hermes-test/missing:1' is not on the docker daemon at {docker_host}" in str(
        no_image.value
    )
    assert "docker pull hermes-test/missing:1" in str(no_image.value)
    nowhere = f"unix://{tmp_path}/none.sock"
    with pytest.raises(BackendUnavailable, match=f"{nowhere} cannot be reached"):
        backend_for(BackendSpec(kind="docker", image="x", docker_host=nowhere))
