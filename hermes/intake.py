"""Turning a request for a card into a board card: the one path every intake takes.

The CLI, chat messages, cron fires, goal planners and MCP clients all describe a card the
same way; this module validates the profile, resolves the repository and base, applies
the profile's defaults and the start time, then makes the single `Store.add_card` call.
So a card with an unknown profile is refused at the door instead of sitting in `ready`
forever.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from msgspec import Struct, field

from board import NewCard, Store
from board.card_ops import check_new_card, check_priority
from board.clock import iso, parse_when
from hermes.config import load_config
from hermes.errors import InvalidInput
from hermes.paths import profile_cache_file, profiles_dir
from profiles import card_defaults
from worktrees import resolve_repo


class CardRequest(Struct):
    """A card as a person or an intake asks for it; None means "use the default"."""

    title: str
    body: str = ""
    profile: str = "default"
    after: list[int] = field(default_factory=list)
    priority: int = 0
    labels: list[str] = field(default_factory=list)
    repo: Path | None = None
    no_repo: bool = False
    base: str | None = None
    max_attempts: int | None = None
    timeout: float | None = None
    backlog: bool = False
    at: str | None = None
    key: str | None = None
    source: str = "cli"
    parent_id: int | None = None
    budget: int | None = None  # a goal's planner turns (None: not a goal)
    model: str | None = None  # this card's model instead of its profile's (agent profiles)
    cwd: Path = field(default_factory=Path.cwd)


def resolve(request: CardRequest, now: datetime) -> NewCard:
    """Validate `request` and fill in everything the board needs, touching nothing."""
    defaults = load_config().profile_defaults
    profile = card_defaults(request.profile, profiles_dir(), profile_cache_file(), defaults)
    if request.budget is not None and profile.runner != "agent":
        raise InvalidInput(
            f"profile {profile.name!r} runs {profile.runner} cards, but a goal is planned by "
            "a model: give it an agent profile (such as planner)"
        )
    if request.model is not None:
        check_model(request.model, profile.name, profile.runner)
    if profile.runner == "command" and not request.body.strip():
        raise InvalidInput(
            f"the card has no body, and profile {profile.name!r} runs its body as a bash "
            "script: give the script as the body"
        )
    nul = request.body.find("\0")
    if profile.runner == "command" and nul >= 0:  # bash takes its script as an argument
        raise InvalidInput(
            f"the body holds a NUL character (at position {nul:,}); profile "
            f"{profile.name!r} runs the body with bash, which cannot take one: remove it"
        )
    if request.no_repo and (request.base is not None or request.repo is not None):
        raise InvalidInput(
            "{field} cannot be combined with a repository or a base; drop one", field="no_repo"
        )
    repo_root, base = None, None
    if not request.no_repo:
        explicit = request.repo is not None
        ref = resolve_repo(request.repo or request.cwd, request.base, explicit=explicit)
        if ref is not None:
            repo_root, base = str(ref.root), ref.base
    not_before = iso(parse_when(request.at, now)) if request.at is not None else None
    return NewCard(
        title=request.title,
        body=request.body,
        profile=profile.name,
        priority=request.priority,
        labels=request.labels,
        after=request.after,
        parent_id=request.parent_id,
        source=request.source,
        key=request.key,
        not_before=not_before,
        repo=repo_root,
        base=base,
        max_attempts=(
            request.max_attempts if request.max_attempts is not None else profile.max_attempts
        ),
        timeout=request.timeout if request.timeout is not None else profile.timeout,
        backlog=request.backlog,
        budget=request.budget,
        model=request.model,
    )


def check_model(model: str, profile: str, runner: str) -> None:
    """A card's own model: a litellm model string, for a card a model works."""
    if runner != "agent":
        raise InvalidInput(
            f"profile {profile!r} runs {runner} cards, which call no model; a model applies "
            "to agent profiles only"
        )
    if not model.strip() or any(c.isspace() for c in model) or len(model) > 200:
        raise InvalidInput(
            f"model {model!r} is not a model name; write PROVIDER/NAME, e.g. openai/gpt-4o-mini"
        )


def add_card(
    store: Store, request: CardRequest, now: datetime, *, fence: int | None = None
) -> tuple[int, bool]:
    """Create the card (or find the one with the same key); returns (id, created).

    `fence` is the run id of a worker adding the card; the board refuses it once that
    run no longer holds its own card.
    """
    return store.add_card(resolve(request, now), now, actor=request.source, fence=fence)


def edit_card(store: Store, card_id: int, changes: dict[str, Any], now: datetime) -> list[str]:
    """Change what a card says, checked as a new card would be; returns what changed."""
    card = store.card(card_id)
    wanted = {
        "title": card.title, "body": card.body, "profile": card.profile,
        "priority": card.priority, "model": card.model, **changes,
    }  # fmt: skip
    if not str(wanted["title"]).strip():
        raise InvalidInput("the title is empty; give the card a title, e.g. 'Fix the login bug'")
    defaults = load_config().profile_defaults
    profile = card_defaults(str(wanted["profile"]), profiles_dir(), profile_cache_file(), defaults)
    if "profile" in changes:
        changes["profile"] = profile.name
    if wanted["model"] is not None:
        check_model(str(wanted["model"]), profile.name, profile.runner)
    if profile.runner == "command" and not str(wanted["body"]).strip():
        raise InvalidInput(
            f"the card would have no body, and profile {profile.name!r} runs its body as a "
            "bash script: give the script as the body"
        )
    check_priority(int(wanted["priority"]))
    return store.edit(card_id, changes, now)


#: Planner turns a goal may spend at most; a typo beyond it should not run for weeks.
MAX_BUDGET = 1000
_DELIVER = re.compile(r"[a-z][a-z0-9_-]*:\S+")


def goal_request(
    objective: str,
    *,
    profile: str = "planner",
    budget: int = 20,
    repo: Path | None = None,
    no_repo: bool = False,
    source: str = "cli",
    key: str | None = None,
    cwd: Path | None = None,
) -> CardRequest:
    """A goal as a card request: the planner's card, labelled `goal`, with its budget."""
    text = objective.strip()
    if not text:
        raise InvalidInput("the objective is empty; say what should be achieved")
    if not 1 <= budget <= MAX_BUDGET:
        raise InvalidInput(
            f"{{field}} {budget} must be between 1 and {MAX_BUDGET:,} planner turns",
            field="budget",
        )
    return CardRequest(
        title=text.splitlines()[0][:100],
        body=text,
        profile=profile,
        repo=repo,
        no_repo=no_repo,
        labels=["goal"],
        budget=budget,
        source=source,
        key=key,
        cwd=cwd or Path.cwd(),
    )


class JobRequest(Struct):
    """A cron job as a person asks for it: when, and the card each fire makes."""

    schedule: str
    title: str
    body: str = ""
    profile: str = "default"
    repo: Path | None = None
    no_repo: bool = False
    tz: str | None = None  # None: this machine's zone
    overlap: str = "skip"
    deliver: str | None = None
    cwd: Path = field(default_factory=Path.cwd)


def add_job(store: Store, request: JobRequest, now: datetime) -> int:
    """Check the schedule and the card every fire would make, then save the job."""
    from board.cron_ops import NewJob
    from dispatcher.schedule import first_fire, local_zone_name, zone

    if request.overlap not in ("skip", "allow"):
        raise InvalidInput(f"{{field}} {request.overlap!r} must be skip or allow", field="overlap")
    if request.deliver is not None and not _DELIVER.fullmatch(request.deliver):
        raise InvalidInput(
            f"{{field}} {request.deliver!r} must look like PLATFORM:CHAT, e.g. telegram:12345",
            field="deliver",
        )
    zone_name = local_zone_name() if request.tz is None else request.tz
    next_fire = first_fire(request.schedule, zone(zone_name), now)
    card = resolve(
        CardRequest(
            title=request.title,
            body=request.body,
            profile=request.profile,
            repo=request.repo,
            no_repo=request.no_repo,
            cwd=request.cwd,
        ),
        now,
    )
    check_new_card(card)  # every fire makes this card: refuse now what it would refuse then
    job = NewJob(
        request.schedule.strip(),
        zone_name,
        request.title,
        card.profile,
        request.body,
        card.repo,
        card.base,
        request.deliver,
        request.overlap,
    )
    return store.add_job(job, now, next_fire)
