"""Setting up the docker and ssh backends: a bad backend block is one `error:` line
naming the file, field and fix (exit 2); a missing library fails the card at once with
the pip line; the libraries are imported only when used; `hermes doctor` reports each
backend by name, never a secret."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from board import open_store
from profiles.model import BackendSpec
from tests.conftest import Cli
from tests.helpers.agents import add_card
from tests.helpers.processes import FAST, finish, start_dispatcher
from tests.helpers.sshd import keypair
from workers.backends import BackendUnavailable, backend_for


def profile_file(home: Path, name: str, text: str) -> Path:
    (home / "profiles").mkdir(parents=True, exist_ok=True)
    path = home / "profiles" / f"{name}.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("block", "said"),
    [
        ("{kind: docker}", "backend docker needs `image`, e.g. image: python:3.12-slim"),
        ("{kind: ssh, host: h, workdir: /w}", "backend ssh needs `key_file`"),
        (
            "{kind: ssh, host: h, key_file: k, workdir: /w, image: x}",
            "`image` is not a setting of backend ssh (it is for docker); remove it",
        ),
        ("{kind: docker, image: x, network: true}", "docker `network` is a network mode"),
        ("{kind: sandbox, network: host}", "sandbox `network` is true or false"),
        ("{kind: podman}", "field 'backend.kind'"),
    ],
)
def test_a_bad_backend_block_is_one_error_line_naming_file_field_and_fix(
    cli: Cli, hermes_home: Path, block: str, said: str
) -> None:
    path = profile_file(hermes_home, "bad", f"runner: command\nbackend: {block}\n")
    result = cli("profiles", "show", "bad")
    assert result.code == 2, result
    assert result.out == "" and result.err.count("\n") == 1
    assert result.err.startswith(f"error: profile file {path}: field 'backend")
    assert said in result.err


@pytest.mark.parametrize(
    ("library", "spec"),
    [
        ("docker", BackendSpec(kind="docker", image="x")),
        ("asyncssh", BackendSpec(kind="ssh", host="h", key_file="k", workdir="/w")),
    ],
)
def test_a_missing_library_is_a_permanent_error_with_the_pip_line(
    monkeypatch: pytest.MonkeyPatch, library: str, spec: BackendSpec
) -> None:
    monkeypatch.setitem(sys.modules, library, None)  # `import library` now fails
    extra = "docker" if library == "docker" else "ssh"
    with pytest.raises(BackendUnavailable, match=rf"pip install 'hermes-board\[{extra}\]'") as exc:
        backend_for(spec)
    assert not exc.value.retryable


def test_a_card_whose_backend_cannot_run_fails_at_once(
    cli: Cli, hermes_home: Path, db_url: str, tmp_path: Path
) -> None:
    profile_file(
        hermes_home, "far",
        "runner: command\nmax_attempts: 3\nbackend: {kind: ssh, host: 127.0.0.1, port: 1, "
        f"key_file: {tmp_path}/k, workdir: /w, known_hosts: {tmp_path}/none}}\n",
    )  # fmt: skip
    card = add_card(cli, "Far away", "--profile", "far", "--body", "true", "--no-repo")
    code, out = finish(start_dispatcher("--until-idle", *FAST), 60)
    assert code == 0, out
    with open_store(db_url) as store:
        detail = store.detail(card)
    assert detail.card.status == "failed" and len(detail.runs) == 1
    assert "the host is unknown" in (detail.runs[0].error or "")


def test_the_libraries_are_imported_only_when_a_profile_uses_them() -> None:
    code = (
        "import sys, workers.worker, workers.backends, dispatcher.loop, hermes.doctor; "
        "print(sorted(m for m in ('docker', 'asyncssh') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_doctor_reports_each_backend_by_name_never_secrets(
    cli: Cli, hermes_home: Path, tmp_path: Path
) -> None:
    key, public = keypair(tmp_path, "client")
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:2222 {public}\n")
    ssh = f"kind: ssh, host: 127.0.0.1, port: 2222, key_file: {key}, workdir: /srv"
    profile_file(
        hermes_home, "known", f"runner: command\nbackend: {{{ssh}, known_hosts: {known}}}\n"
    )
    profile_file(
        hermes_home,
        "stranger",
        f"runner: command\nbackend: {{{ssh}, known_hosts: {tmp_path}/empty}}\n",
    )
    profile_file(
        hermes_home, "boxed",
        f"runner: command\nbackend: {{kind: docker, image: x, docker_host: 'unix://{tmp_path}/no.sock'}}\n",
    )  # fmt: skip
    result = cli("doctor", "--json")
    checks = {c["name"]: c for c in result.json()["checks"]}
    assert checks["ssh (profile known)"]["status"] == "ok"
    assert f"host key in {known}" in checks["ssh (profile known)"]["detail"]
    assert checks["ssh (profile stranger)"]["status"] == "fail"
    assert "host key unknown" in checks["ssh (profile stranger)"]["detail"]
    docker = checks["docker (profile boxed)"]
    assert docker["status"] == "fail" and f"unix://{tmp_path}/no.sock" in docker["detail"]
    assert key.read_text() not in json.dumps(result.json())
