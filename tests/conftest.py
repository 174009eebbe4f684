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
from tests.helpers.postgres import Cluster, start_cluster
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


#: The engines a board can live in. Tests of the store, the integration, property and
#: chaos suites run on both; elsewhere a test opts in with `@pytest.mark.engines(...)`.
ENGINES = ("sqlite", "postgres")
BOTH_ENGINES_SUITES = ("integration", "chaos")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that uses a board (`db_url`, `store`) once per engine where its
    suite or its `engines` marker says so."""
    if "engine" not in metafunc.fixturenames:
        return
    for given in metafunc.definition.iter_markers("parametrize"):
        names = given.args[0]
        if "engine" in (names.replace(" ", "").split(",") if isinstance(names, str) else names):
            return  # the test parametrises its engines itself (with marks of its own)
    marker = metafunc.definition.get_closest_marker("engines")
    if marker is not None:
        engines = list(marker.args)
    elif any(part in BOTH_ENGINES_SUITES for part in metafunc.definition.path.parts):
        engines = list(ENGINES)
    else:
        return
    metafunc.parametrize("engine", engines, indirect=True)


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """The engine of this test's board: `sqlite` unless parametrised otherwise."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One PostgreSQL server for the whole session (per xdist worker), in a temporary
    directory, on a unix socket; skipped with the reason when PostgreSQL is missing."""
    cluster = start_cluster()
    if cluster is None:
        pytest.skip("PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin)")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def db_url(
    hermes_home: Path, engine: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The URL of this test's board: SQLite in its HERMES_HOME, or a new PostgreSQL
    database made from the migrated template (then HERMES_DB_URL points every `hermes`
    process the test starts at it)."""
    if engine == "sqlite":
        return f"sqlite:///{hermes_home / 'board.db'}"
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    url = cluster.new_board()
    monkeypatch.setenv("HERMES_DB_URL", url)
    request.addfinalizer(lambda: cluster.drop(url))
    return url


@pytest.fixture
def fresh_board(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """Makes a new empty board of this test's engine on each call (for tests that need
    many, such as the state-machine property test); dropped after the test."""
    made: list[str] = []

    def make() -> str:
        if engine == "sqlite":
            url = f"sqlite:///{tmp_path / f'board-{len(made)}.db'}"
        else:
            url = request.getfixturevalue("pg_cluster").new_board()
        made.append(url)
        return url

    if engine == "postgres":
        cluster: Cluster = request.getfixturevalue("pg_cluster")

        def drop_all() -> None:
            for url in made:
                cluster.drop(url)

        request.addfinalizer(drop_all)
    return make


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A real store on this test's board; time is what each call passes (literal times),
    on PostgreSQL too."""
    with open_store(db_url, now=T0, clock="caller") as opened:
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
