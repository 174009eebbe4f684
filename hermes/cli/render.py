"""How the board looks to a person: rich tables for `list`, `show`, `stats`, profiles.

Only human output lives here; `--json` output is the records' `to_json()`. Imported
lazily by the commands that print tables, so `hermes board add` never pays for rich.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from board import Card, CardDetail, Status
from board.clock import age
from profiles import Profile, is_builtin

STATUS_STYLE: dict[str, str] = {
    "backlog": "grey62",
    "waiting": "yellow",
    "ready": "cyan",
    "running": "bold blue",
    "needs_input": "bold magenta",
    "review": "magenta",
    "done": "green",
    "failed": "bold red",
    "cancelled": "grey50",
}
OUTCOME_STYLE = {
    "running": "blue",
    "done": "green",
    "failed": "red",
    "timeout": "red",
    "reclaimed": "yellow",
    "cancelled": "grey50",
}


def status_text(status: str) -> Text:
    """A status name in its colour."""
    return Text(status, style=STATUS_STYLE.get(status, ""))


def _ids(ids: Iterable[int]) -> str:
    return ", ".join(str(i) for i in ids) or "-"


def card_groups(cards: list[Card], now: datetime, limit: int | None) -> RenderableType:
    """`board list`: one table per status, in the state machine's order."""
    if not cards:
        return Text("No cards. Add one with: hermes board add 'What needs doing'", style="dim")
    parts: list[RenderableType] = []
    for status in Status:
        group = [card for card in cards if card.status == status]
        if not group:
            continue
        group.sort(key=lambda c: (-c.priority, c.id))
        shown = group if limit is None else group[:limit]
        title = Text.assemble(status_text(status.value), f"  {len(group)}")
        table = Table(title=title, title_justify="left", expand=False, pad_edge=False)
        table.add_column("ID", justify="right", style="bold")
        table.add_column("Title", overflow="ellipsis", no_wrap=True, max_width=60)
        table.add_column("Profile")
        table.add_column("Pri", justify="right")
        table.add_column("Age", justify="right")
        table.add_column("Blocked by")
        table.add_column("Labels", style="dim")
        for card in shown:
            table.add_row(
                str(card.id),
                card.title.splitlines()[0] if card.title.strip() else card.title,
                card.profile,
                str(card.priority) if card.priority else "",
                age(card.created_at, now),
                Text(_ids(card.blocked_by), style="yellow") if card.blocked_by else "",
                ", ".join(card.labels),
            )
        parts.append(table)
        if len(group) > len(shown):
            more = len(group) - len(shown)
            parts.append(
                Text(
                    f"  … {more} more {status.value} cards "
                    f"(hermes board list --status {status.value} --limit 0)",
                    style="dim",
                )
            )
    return Group(*parts)


def _field_grid(pairs: list[tuple[str, RenderableType | str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in pairs:
        grid.add_row(label, value)
    return grid


def card_detail(detail: CardDetail, now: datetime) -> RenderableType:
    """`board show`: the card's fields, body, result, runs and events."""
    card = detail.card
    head = Text.assemble(
        (f"card {card.id}  ", "bold"), (card.title, "bold"), "  ", status_text(card.status)
    )
    repo = f"{card.repo} (base {card.base})" if card.repo else "none (scratch workspace)"
    fields: list[tuple[str, RenderableType | str]] = [
        ("profile", card.profile),
        ("priority", str(card.priority)),
        ("attempts", f"{card.attempts}/{card.max_attempts}"),
        ("timeout", f"{card.timeout:g}s" if card.timeout else "-"),
        ("labels", ", ".join(card.labels) or "-"),
        ("source", card.source + (f"  key {card.key}" if card.key else "")),
        ("repo", repo),
    ]
    if card.branch or card.worktree:
        fields.append(("branch", f"{card.branch or '-'}  worktree {card.worktree or '-'}"))
    if card.parent_id is not None:
        fields.append(("parent", str(card.parent_id)))
    if card.not_before:
        fields.append(("not before", card.not_before))
    fields += [
        ("depends on", _ids(card.depends_on)),
        ("dependents", _ids(card.dependents)),
        ("created", f"{card.created_at} ({age(card.created_at, now)} ago)"),
        ("updated", f"{card.updated_at} ({age(card.updated_at, now)} ago)"),
    ]
    if card.blocked_by:
        fields.append(("blocked by", Text(_ids(card.blocked_by), style="yellow")))
    parts: list[RenderableType] = [head, _field_grid(fields)]
    if card.body:
        parts += [Text("\nbody", style="bold"), Padding(Text(card.body), (0, 0, 0, 2))]
    if card.result:
        parts += [Text("\nresult", style="bold"), Padding(Text(card.result), (0, 0, 0, 2))]
    if detail.runs:
        parts += [Text(""), _runs_table(detail)]
    parts += [Text(""), _events_table(detail)]
    return Group(*parts)


def _runs_table(detail: CardDetail) -> Table:
    table = Table(title="runs", title_justify="left")
    for name in (
        "run",
        "attempt",
        "outcome",
        "worker",
        "pid",
        "started",
        "ended",
        "exit",
        "tokens in/out",
        "cost",
        "error",
    ):
        table.add_column(name)
    for run in detail.runs:
        tokens = f"{run.tokens_in}/{run.tokens_out}" if run.tokens_in is not None else "-"
        table.add_row(
            str(run.id),
            str(run.attempt),
            Text(run.outcome, style=OUTCOME_STYLE.get(run.outcome, "")),
            run.worker or "-",
            str(run.pid) if run.pid is not None else "-",
            run.started_at,
            run.ended_at or "-",
            str(run.exit_code) if run.exit_code is not None else "-",
            tokens,
            f"${run.cost_usd:.4f}" if run.cost_usd is not None else "-",
            Text(run.error or "", style="red"),
        )
    return table


def _events_table(detail: CardDetail) -> Table:
    table = Table(title="events", title_justify="left")
    table.add_column("at")
    table.add_column("kind", style="bold")
    table.add_column("actor")
    table.add_column("details", overflow="fold")
    for event in detail.events:
        data = dict(event.data)
        change = ""
        if "to" in data:
            src, dst = data.pop("from", None), data.pop("to")
            change = f"{src} → {dst}  " if src else f"→ {dst}  "
        rest = " ".join(
            f"{k}={json.dumps(v, ensure_ascii=False)}"
            for k, v in data.items()
            if v not in (None, [], {})
        )
        table.add_row(event.at, event.kind, event.actor, escape(change + rest))
    return table


def stats_view(stats: dict[str, Any]) -> RenderableType:
    """`board stats`: cards per status and profile, runs, tokens and cost per profile."""
    cards = Table(title=f"cards  {stats['cards']}", title_justify="left")
    cards.add_column("profile", style="bold")
    statuses = [s.value for s in Status if stats["by_status"][s.value]]
    for status in statuses:
        cards.add_column(status_text(status), justify="right")
    for profile, counts in sorted(stats["by_profile"].items()):
        cards.add_row(profile, *(str(counts.get(s, "")) for s in statuses))
    oldest = stats["oldest_ready_age_seconds"]
    parts: list[RenderableType] = [cards]
    if oldest is not None:
        parts.append(Text(f"oldest ready card waiting for {oldest:.1f}s"))
    runs = Table(title=f"runs  {stats['runs']['total']}", title_justify="left")
    for name in ("profile", "runs", "outcomes", "tokens in", "tokens out", "cost"):
        runs.add_column(name, justify="left" if name in ("profile", "outcomes") else "right")
    for profile, entry in sorted(stats["runs"]["by_profile"].items()):
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(entry["by_outcome"].items()))
        cost = entry["cost_usd"]
        runs.add_row(
            profile,
            str(entry["runs"]),
            outcomes,
            str(entry["tokens_in"]),
            str(entry["tokens_out"]),
            f"${cost:.4f}" if cost is not None else "-",
        )
    parts.append(runs)
    return Group(*parts)


#: The fields that matter for each runner; `profiles show` hides the others.
RUNNER_FIELDS = {
    "command": ("timeout",),
    "agent": ("model", "api_base", "api_key_env", "tools", "max_turns", "soul"),
    "cli": ("command",),
}
COMMON_FIELDS = ("description", "runner", "concurrency", "max_attempts", "timeout", "review")


def profiles_table(rows: list[tuple[Profile, Path]]) -> Table:
    """`profiles list`: each profile's limits on one line, its description under them."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for profile, path in rows:
        limits = [
            profile.runner,
            f"{profile.concurrency} at once",
            f"{profile.max_attempts} attempts",
            f"{profile.timeout:g}s" if profile.timeout else "no timeout",
        ]
        if profile.review:
            limits.append("review")
        limits.append("built-in" if is_builtin(path) else f"user ({path})")
        table.add_row(
            profile.name,
            Text.assemble(" · ".join(limits), "\n", (profile.description, "dim")),
        )
    return table


def profile_view(profile: Profile, path: Path) -> RenderableType:
    """`profiles show`: the fields that apply to this profile's runner, and its file."""
    values = profile.model_dump(mode="json")
    fields: list[tuple[str, RenderableType | str]] = [("name", Text(profile.name, style="bold"))]
    for key in dict.fromkeys(COMMON_FIELDS + RUNNER_FIELDS[profile.runner]):
        value = values[key]
        shown = value if isinstance(value, str) else json.dumps(value)
        fields.append((key, Text(shown)))
    fields.append(("file", str(path)))
    return _field_grid(fields)
