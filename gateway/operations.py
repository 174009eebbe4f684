"""What scripts and other agents may ask of the board, once for the API and for MCP.

Each operation names its arguments as a pydantic model (so the JSON API's bodies and the
MCP tools' input schemas are the same thing), checks them with errors that name the
field, and answers with the JSON document the matching `--json` command prints. The
HTTP routes and the MCP tools are thin: they pick an operation, hand it the caller's
arguments and a `Door` saying who is asking, and word any `HermesError` their own way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from board import CardFilter, Store, parse_status
from board.clock import utcnow
from board.db import LARGEST
from hermes import reports
from hermes.errors import HermesError, InvalidInput


@dataclass(frozen=True, slots=True)
class Door:
    """Who is asking: `source` and actor of what they make (`api`, `mcp`), and the folder
    a relative repository means (None for remote callers, whose folders are not ours:
    their cards get no repository unless they name one by absolute path)."""

    source: str
    cwd: Path | None = None


class Args(BaseModel):
    """Arguments as JSON gives them: exact types, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True)


CardNumber = Field(ge=1, le=LARGEST, description="The card's id.")


class CardRef(Args):
    """One card."""

    id: int = CardNumber


class RepoArgs(Args):
    """Where the work happens."""

    repo: str | None = Field(None, description="Git repository to work in (absolute path).")
    no_repo: bool = Field(False, description="Work in a scratch folder, not a git worktree.")


class AddArgs(RepoArgs):
    """A new card: the fields of `hermes board add`."""

    title: str = Field(description="What the card is about, in one line.")
    body: str = Field("", description="The card's full instructions.")
    profile: str = Field("default", description="Profile that works the card.")
    after: list[int] = Field([], description="Ids of cards that must be done first.")
    priority: int = Field(0, description="Higher runs first.")
    labels: list[str] = Field([], description="Labels.")
    base: str | None = Field(None, description="Branch or commit to start from.")
    max_attempts: int | None = Field(None, description="Attempts before the card fails.")
    timeout: float | None = Field(None, description="Seconds per attempt.")
    backlog: bool = Field(False, description="Park the card; it runs only once moved.")
    at: str | None = Field(None, description="Not before: ISO 8601 or +30s, +10m, +2h.")
    key: str | None = Field(None, description="Idempotency key: a card with it is reused.")
    model: str | None = Field(None, description="This card's model, instead of its profile's.")


class ListArgs(Args):
    """Which cards: the filters of `hermes board list`."""

    status: list[str] = Field([], description="Only cards in these statuses.")
    profile: str | None = Field(None, description="Only cards of this profile.")
    label: str | None = Field(None, description="Only cards with this label.")
    all: bool = Field(False, description="Include done/cancelled cards older than a day.")
    archived: bool = Field(False, description="Only archived cards.")


class TextArgs(CardRef):
    """A card and some text for it."""

    text: str = Field(description="The text.")


class ReasonArgs(CardRef):
    """A card and, optionally, why."""

    reason: str | None = Field(None, description="Why; kept in the card's history.")


class GoalArgs(RepoArgs):
    """A new goal: the arguments of `hermes goal`."""

    objective: str = Field(description="What to achieve.")
    profile: str = Field("planner", description="The planner's profile.")
    budget: int = Field(20, description="Planner turns before the goal fails.")
    key: str | None = Field(None, description="Idempotency key: a goal with it is reused.")


class CronArgs(RepoArgs):
    """A new schedule: the arguments of `hermes cron add`."""

    schedule: str = Field(description="Five-field cron, 'every 10 minutes', 'weekdays at 9am'.")
    title: str = Field(description="The title of each card.")
    body: str = Field("", description="Each card's body.")
    profile: str = Field("default", description="Profile of each card.")
    tz: str | None = Field(None, description="Time zone (default: the server's).")
    overlap: Literal["skip", "allow"] = Field("skip", description="Fire while the last runs?")
    deliver: str | None = Field(None, description="PLATFORM:CHAT that gets each result.")


class ContextArgs(Args):
    """Where the caller is."""

    path: str | None = Field(None, description="A folder (default: the caller's own).")


class NoArgs(Args):
    """Nothing to say."""


@dataclass(frozen=True, slots=True)
class Operation:
    """One thing a caller may ask: its name (the MCP tool's), what it is for, its
    arguments and what answers it."""

    name: str
    summary: str
    args: type[Args]
    run: Callable[[Store, Any, Door], Any]

    def __call__(self, store: Store, raw: object, door: Door) -> Any:
        """Check `raw` (a JSON object) and do it; bad input raises `InvalidInput`."""
        return self.run(store, parse(self.args, raw), door)


#: Fields the board names differently from these arguments.
_JSON_NAMES = {"label": "labels"}


def worded(exc: HermesError) -> str:
    """An error as API and MCP callers read it: fields by their argument names, no
    command-line flags or hints."""
    return exc.worded(lambda field: _JSON_NAMES.get(field, field))


def parse(model: type[Args], raw: object) -> Any:
    """`raw` as `model`, or an `InvalidInput` naming the first bad field and the fix."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidInput(f"the arguments must be a JSON object, not {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise _invalid(model, exc) from None


def _invalid(model: type[Args], exc: ValidationError) -> InvalidInput:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "the arguments"
    kind, value = error["type"], error.get("input")
    if kind == "missing":
        return InvalidInput(f"{where} is missing; {_describe(model, where)}")
    if kind == "extra_forbidden":
        known = ", ".join(model.model_fields)
        return InvalidInput(f"{where} is not an argument here; the arguments are {known}")
    shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    return InvalidInput(f"{where} {shown} is not valid: {error['msg'].lower()}")


def _describe(model: type[Args], name: str) -> str:
    found = model.model_fields.get(name)
    about = found.description if found and found.description else ""
    return f"add {name}: {about[:1].lower()}{about[1:].rstrip('.')}" if about else f"add {name}"


# -- what each operation does -------------------------------------------------------------


def _repo(args: RepoArgs, door: Door) -> tuple[Path | None, bool]:
    """The repository a card is asked for, and whether it is asked to have none."""
    if args.repo is None:
        return None, args.no_repo or door.cwd is None
    path = Path(args.repo).expanduser()
    if not path.is_absolute():
        if door.cwd is None:
            raise InvalidInput(
                f"{{field}} {args.repo!r} is relative; give the repository's absolute path",
                field="repo",
            )
        path = door.cwd / path
    return path, args.no_repo


def board_add(store: Store, args: AddArgs, door: Door) -> dict[str, Any]:
    """Add a card (or find the one with the same key)."""
    from hermes.intake import CardRequest, add_card

    repo, no_repo = _repo(args, door)
    request = CardRequest(
        title=args.title,
        body=args.body,
        profile=args.profile,
        after=args.after,
        priority=args.priority,
        labels=args.labels,
        repo=repo,
        no_repo=no_repo,
        base=args.base,
        max_attempts=args.max_attempts,
        timeout=args.timeout,
        backlog=args.backlog,
        at=args.at,
        key=args.key,
        source=door.source,
        model=args.model,
        cwd=door.cwd or Path.home(),
    )
    card_id, _ = add_card(store, request, store.now())
    return store.card(card_id).to_json()


def board_list(store: Store, args: ListArgs, door: Door) -> list[dict[str, Any]]:
    """The cards on the board, filtered."""
    where = CardFilter(
        statuses=[_status(text) for text in args.status],
        profile=args.profile,
        label=args.label,
        include_old=args.all,
        archived=args.archived,
    )
    return [card.to_json() for card in store.list_cards(where, utcnow())]


def _status(text: str) -> str:
    return parse_status(text).value


def board_show(store: Store, args: CardRef, door: Door) -> dict[str, Any]:
    """One card with its dependencies, runs and events."""
    return store.detail(args.id).to_json()


def board_log(store: Store, args: CardRef, door: Door) -> dict[str, Any]:
    """Every run's output of a card, and what it waits for."""
    return reports.card_log(store, args.id)


def board_comment(store: Store, args: TextArgs, door: Door) -> dict[str, Any]:
    """A note in the card's history; its agent reads it on its next turn."""
    store.comment(args.id, args.text, utcnow(), door.source)
    return store.card(args.id).to_json()


def board_approve(store: Store, args: CardRef, door: Door) -> dict[str, Any]:
    """Let a paused card run the risky command it asked to run."""
    store.answer(args.id, utcnow(), "approved", {}, door.source)
    return store.card(args.id).to_json()


def board_reject(store: Store, args: ReasonArgs, door: Door) -> dict[str, Any]:
    """Refuse the risky command; the agent is told the reason and carries on."""
    store.answer(args.id, utcnow(), "rejected", {"reason": args.reason or "rejected"}, door.source)
    return store.card(args.id).to_json()


def board_reply(store: Store, args: TextArgs, door: Door) -> dict[str, Any]:
    """Answer the question a paused card asked."""
    if not args.text.strip():
        raise InvalidInput("the reply is empty; write the answer to the card's question")
    store.answer(args.id, utcnow(), "answered", {"answer": args.text}, door.source)
    return store.card(args.id).to_json()


def board_cancel(store: Store, args: ReasonArgs, door: Door) -> dict[str, Any]:
    """Cancel a card; a running attempt is stopped."""
    store.cancel(args.id, utcnow(), door.source, reason=args.reason)
    return store.card(args.id).to_json()


def board_retry(store: Store, args: CardRef, door: Door) -> dict[str, Any]:
    """Run a failed or cancelled card again, with a fresh set of attempts."""
    store.retry(args.id, utcnow(), door.source)
    return store.card(args.id).to_json()


def goal_add(store: Store, args: GoalArgs, door: Door) -> dict[str, Any]:
    """A goal: a planner breaks it into cards and a judge decides when it is met."""
    from hermes.intake import add_card, goal_request

    repo, no_repo = _repo(args, door)
    request = goal_request(
        args.objective,
        profile=args.profile,
        budget=args.budget,
        repo=repo,
        no_repo=no_repo,
        source=door.source,
        key=args.key,
        cwd=door.cwd or Path.home(),
    )
    goal_id, _ = add_card(store, request, store.now())
    return reports.goal_report(store, goal_id)


def goal_status(store: Store, args: CardRef, door: Door) -> dict[str, Any]:
    """A goal, its cards, the planner's turns and the verdicts so far."""
    return reports.goal_report(store, args.id)


def cron_add(store: Store, args: CronArgs, door: Door) -> dict[str, Any]:
    """A schedule that makes a card on every fire."""
    from hermes.intake import JobRequest, add_job

    repo, no_repo = _repo(args, door)
    request = JobRequest(
        schedule=args.schedule,
        title=args.title,
        body=args.body,
        profile=args.profile,
        repo=repo,
        no_repo=no_repo,
        tz=args.tz,
        overlap=args.overlap,
        deliver=args.deliver,
        cwd=door.cwd or Path.home(),
    )
    return store.job(add_job(store, request, store.now())).to_json()


def cron_list(store: Store, args: NoArgs, door: Door) -> list[dict[str, Any]]:
    """Every schedule, its next fire and its last card's status."""
    return reports.cron_jobs(store)


def board_context(store: Store, args: ContextArgs, door: Door) -> dict[str, Any]:
    """The card whose worktree the caller works in."""
    if args.path is None and door.cwd is None:
        raise InvalidInput("{field} is missing; give the folder you work in", field="path")
    where = Path(args.path) if args.path is not None else door.cwd
    assert where is not None
    if not where.is_absolute():
        if door.cwd is None:
            raise InvalidInput(f"{{field}} {args.path!r} must be absolute", field="path")
        where = door.cwd / where
    return reports.card_at(store, where)


def approvals(store: Store, args: NoArgs, door: Door) -> list[dict[str, Any]]:
    """Cards paused for a person, each with the request it waits on."""
    return reports.waiting_for_people(store)


def _operation(fn: Callable[[Store, Any, Door], Any], args: type[Args]) -> Operation:
    doc = (fn.__doc__ or "").strip()
    return Operation(fn.__name__, doc, args, fn)


#: The MCP tools, in the contract's order; the API reaches the same functions.
TOOLS: dict[str, Operation] = {
    op.name: op
    for op in (
        _operation(board_add, AddArgs),
        _operation(board_list, ListArgs),
        _operation(board_show, CardRef),
        _operation(board_log, CardRef),
        _operation(board_comment, TextArgs),
        _operation(board_approve, CardRef),
        _operation(board_reject, ReasonArgs),
        _operation(board_reply, TextArgs),
        _operation(board_cancel, ReasonArgs),
        _operation(board_retry, CardRef),
        _operation(goal_add, GoalArgs),
        _operation(goal_status, CardRef),
        _operation(cron_add, CronArgs),
        _operation(cron_list, NoArgs),
        _operation(board_context, ContextArgs),
    )
}

#: Read-only views the API offers beside the tools.
APPROVALS = _operation(approvals, NoArgs)
