"""`hermes init`: a model and its key's variable chosen, the key tried with one tiny
request, the choice saved as every agent profile's default."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import Cli
from tests.helpers.agents import KEY_ENV, serve
from workers.agent.fake_openai import FakeOpenAI


def test_init_checks_the_key_and_saves_the_choice(
    cli: Cli, model: list[FakeOpenAI], hermes_home: Path
) -> None:
    server = serve(model, [{"text": "OK"}])
    result = cli(
        "init", "--model", "openai/local-model", "--api-base", server.url,
        "--api-key-env", KEY_ENV, **{KEY_ENV: "sk-init-test"},
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "ok: the model answered 'OK'" in result.out and len(server.requests) == 1
    saved = yaml.safe_load((hermes_home / "config.yaml").read_text())
    assert saved == {
        "defaults": {"model": "openai/local-model", "api_base": server.url, "api_key_env": KEY_ENV}
    }
    assert (hermes_home / "config.yaml").stat().st_mode & 0o777 == 0o600
    shown = cli("profiles", "show", "default", "--json").json()
    assert (shown["model"], shown["api_base"], shown["api_key_env"]) == (
        "openai/local-model", server.url, KEY_ENV,
    )  # fmt: skip
    assert cli("profiles", "show", "shell", "--json").json()["runner"] == "command"


def test_init_refuses_what_would_not_work_and_saves_nothing(
    cli: Cli, model: list[FakeOpenAI], hermes_home: Path
) -> None:
    unset = cli("init", "--model", "anthropic/claude-x", "--api-key-env", "HERMES_TEST_UNSET")
    assert unset.code == 2
    assert "HERMES_TEST_UNSET is not set: export HERMES_TEST_UNSET=... first" in unset.err
    server = serve(model, [{"status": 401, "text": "Incorrect API key"}])
    refused = cli(
        "init", "--model", "openai/m", "--api-base", server.url, "--api-key-env", KEY_ENV,
        **{KEY_ENV: "sk-wrong-key-123"},
    )  # fmt: skip
    assert refused.code == 2 and f"check the key in {KEY_ENV}" in refused.err
    assert "sk-wrong-key-123" not in refused.err
    assert not (hermes_home / "config.yaml").exists()
    value = cli("init", "--model", "openai/m", "--api-key-env", "sk-live-123", "--no-check")
    assert value.code == 2 and "never the key itself" in value.err
    assert not (hermes_home / "config.yaml").exists()


def test_init_asks_a_person_at_a_terminal(hermes_home: Path) -> None:
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "100"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hermes", "init", "--no-check"],
        stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True,
    )  # fmt: skip
    os.close(follower)
    seen = b""
    for answer in (b"anthropic/claude-sonnet-4-5\n", b"\n", b"\n"):
        seen += _until(leader, b": ")
        os.write(leader, answer)
    proc.wait(timeout=30)
    seen += _drain(leader)
    os.close(leader)
    assert proc.returncode == 0, seen
    assert b"[ANTHROPIC_API_KEY]" in seen  # the usual variable for the provider, offered
    saved = yaml.safe_load((hermes_home / "config.yaml").read_text())
    assert saved["defaults"] == {
        "model": "anthropic/claude-sonnet-4-5",
        "api_key_env": "ANTHROPIC_API_KEY",
    }


def _until(fd: int, marker: bytes, timeout: float = 20) -> bytes:
    seen, deadline = b"", time.monotonic() + timeout
    while marker not in seen.rsplit(b"\n", 1)[-1]:
        if time.monotonic() > deadline:
            pytest.fail(f"no prompt ending {marker!r}: {seen!r}")
        seen += os.read(fd, 1024)
    return seen


def _drain(fd: int) -> bytes:
    out = b""
    try:
        while chunk := os.read(fd, 1024):
            out += chunk
    except OSError:  # the child closed the terminal
        pass
    return out
