"""Shared fixtures: an isolated HERMES_HOME for every test, a real store, the real CLI.

Tests never touch the user's home or a provider: every test gets its own HERMES_HOME in
a temporary directory, and HERMES_* and provider key variables are removed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from board import Store, open_store
from workers.agent.fake_openai import FakeOpenAI

PROVIDER_KEYS = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "MISTRAL_API_KEY",
    "GROQ_API_KEY",
    "OPENROUTER_API_KEY",
    "AZURE_API_KEY",
    "COHERE_API_KEY",
    "DEEPSEEK_API_KEY",
)

#: A fixed moment for store tests: time is passed in, never read from the clock.
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def hermes_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own HERMES_HOME and no provider keys."""
    for name in list(os.environ):
        if name.startswith("HERMES_") or name in PROVIDER_KEYS:
            monkeypatch.delenv(name)
    home = tmp_path / "hermes-home"
    monkeypatch.setenv("HERMES_HOME", str(home))
    monkeypatch.setenv("HERMES_MODEL_HOSTS", "loopback")  # no test can reach a provider
    return home


@pytest.fixture
def model() -> Iterator[list[FakeOpenAI]]:
    """Scripted model servers a test starts (`tests.helpers.agents.serve`), stopped after."""
    servers: list[FakeOpenAI] = []
    yield servers
    for server in servers:
        server.__exit__()


@pytest.fixture
def db_url(hermes_home: Path) -> str:
    """The URL of this test's board database."""
    return f"sqlite:///{hermes_home / 'board.db'}"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A real store on a real SQLite file in this test's HERMES_HOME."""
    with open_store(db_url, now=T0) as opened:
        yield opened


@dataclass
class Result:
    """What a CLI run did: exit code and both streams."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout parsed as the single JSON document it must be."""
        return json.loads(self.out)


Cli = Callable[..., Result]


@pytest.fixture
def cli(hermes_home: Path) -> Cli:
    """Run the real `hermes` command in a subprocess (python -m hermes)."""

    def run(*args: str, input: str | None = None, cwd: Path | None = None, **env: str) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "hermes", *args],
            input=None if input is None else input.encode("utf-8"),  # bytes: no newline mangling
            capture_output=True,
            cwd=cwd or hermes_home.parent,
            env={**os.environ, "COLUMNS": "120", **env},
            timeout=60,
        )
        return Result(proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8"))

    return run


def add(cli: Cli, title: str, *args: str) -> int:
    """Add a card through the CLI and return its id."""
    result = cli("board", "add", title, "--no-repo", *args)
    assert result.code == 0, result.err
    return int(result.out)
