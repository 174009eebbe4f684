"""Building a runner's context: which backend runs card work, with which environment,
and what must be masked. The worker builds one per attempt; tests build theirs the same
way, so what they exercise is what runs."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from board import Card, Store
from board.db import sqlite_path
from hermes.config import load_config
from hermes.errors import InvalidInput
from hermes.paths import hermes_home, profiles_dir
from profiles import Profile
from workers.agent.resume import Resume
from workers.attempt import Attempt
from workers.backends import Tag, backend_for, board_tag
from workers.runners.base import RunContext
from workers.secrets import Masker, card_env, named_secrets, secret_names


def _board_folder(db_url: str | None) -> tuple[Path, ...]:
    """The folder of a board kept outside HERMES_HOME, which a sandbox hides too."""
    if db_url is None:
        return ()
    try:
        return (sqlite_path(db_url).parent,)
    except InvalidInput:
        return ()  # not a file on this machine


def card_secrets(environ: Mapping[str, str]) -> tuple[frozenset[str], Masker]:
    """The secret variables of `environ` (see `workers.secrets`): those the profiles and
    the settings name, and those that look like secrets; and their masker."""
    config = load_config()
    named = named_secrets(profiles_dir(), config.profile_defaults) | config.secret_names()
    secrets = secret_names(environ, named)
    return secrets, Masker.of(environ, secrets)


def make_context(
    *,
    card: Card,
    run_id: int,
    workspace: Path,
    log_path: Path,
    profile: Profile,
    store: Store,
    attempt: Attempt,
    secrets: frozenset[str],
    masker: Masker,
    repo_git: Path | None = None,
    on_process: Callable[[int], None] = lambda _group: None,
    report: Callable[[str], None] = lambda _line: None,
    db_url: str | None = None,
    resume: Resume | None = None,
) -> RunContext:
    """The context of one attempt; `report` gets the run log's line about the backend."""
    readonly = (repo_git,) if repo_git is not None else ()
    hide = (hermes_home(), *_board_folder(db_url))
    tag = Tag(board_tag(db_url), card.id, run_id)
    backend, note = backend_for(
        profile.backend, hide=hide, readonly=readonly, tag=tag, passed=profile.env
    )
    report(f"backend: {backend.describe()}" + (f"; {note}" if note else ""))
    env = card_env(os.environ, secrets, profile.env) | {
        "HERMES_CARD_ID": str(card.id),
        "HERMES_RUN_ID": str(run_id),
        "HERMES_WORKSPACE": str(workspace),
        "PWD": str(workspace),
    }
    return RunContext(
        card=card,
        run_id=run_id,
        workspace=workspace,
        log_path=log_path,
        profile=profile,
        store=store,
        attempt=attempt,
        backend=backend,
        env=env,
        masker=masker,
        on_process=on_process,
        resume=resume,
    )
