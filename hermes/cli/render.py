"""How the board looks to a person: rich tables for `list`, `show`, `stats`, profiles.

Only human output lives here; `--json` output is the records' `to_json()`. Imported
lazily by the commands that print tables, so `hermes board add` never pays for rich.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from board import Card, CardDetail, DispatcherInfo, LiveRun, Status
from board.clock import age, parse_iso, until
from board.cron_ops import CronJob
from hermes.cli.printable import printable
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


def plain(value: str, style: str = "") -> Text:
    """User or agent text as a rich Text: never read as markup, control characters shown."""
    return Text(printable(value), style=style)


def first_line(title: str) -> str:
    """A title as one line: tables have one row per card."""
    return title.splitlines()[0] if title.strip() else title


def status_text(status: str) -> Text:
    """A status name in its colour."""
    return Text(status, style=STATUS_STYLE.get(status, ""))


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _ids(ids: Iterable[int]) -> str:
    return ", ".join(str(i) for i in ids) or "-"


def _waiting_for(card: Card, now: datetime) -> Text:
    """What holds a card back: unfinished dependencies, or a start time still ahead."""
    if card.blocked_by:
        return Text(_ids(card.blocked_by), style="yellow")
    if card.not_before and card.status == Status.READY and parse_iso(card.not_before) > now:
        return Text(f"in {until(card.not_before, now)}", style="cyan")
    return Text("")


def card_groups(cards: list[Card], now: datetime, limit: int | None) -> RenderableType:
    """`board list`: one table, a section per status in the state machine's order."""
    if not cards:
        return Text("No cards. Add one with: hermes board add 'What needs doing'", style="dim")
    table = Table(pad_edge=False, show_edge=False, box=box.SIMPLE_HEAD)
    # Only the title gives way on a narrow terminal; the small columns keep their width.
    table.add_column("ID", justify="right", style="bold", no_wrap=True, min_width=3)
    table.add_column("Title", overflow="ellipsis", no_wrap=True, min_width=12)
    table.add_column("Profile", no_wrap=True, min_width=7)
    table.add_column("Pri", justify="right", no_wrap=True, min_width=3)
    table.add_column("Age", justify="right", no_wrap=True, min_width=3)
    table.add_column("Waiting for", no_wrap=True, min_width=11)
    table.add_column("Labels", style="dim", no_wrap=True, overflow="ellipsis", max_width=16)
    groups = [(s, [c for c in cards if c.status == s]) for s in Status]
    groups = [(status, group) for status, group in groups if group]
    for number, (status, group) in enumerate(groups):
        group.sort(key=lambda c: (-c.priority, c.id))
        shown = group if limit is None else group[:limit]
        heading = Text.assemble(status_text(status.value), (f" {len(group)}", "dim"))
        table.add_row("", heading)
        for card in shown:
            table.add_row(  # user text goes in as Text: rich must not read it as markup
                str(card.id),
                plain(first_line(card.title)),
                plain(card.profile),
                str(card.priority) if card.priority else "",
                age(card.created_at, now),
                _waiting_for(card, now),
                plain(", ".join(card.labels)),
            )
        if len(group) > len(shown):
            more = f"… {len(group) - len(shown)} more (--status {status.value} --limit 0)"
            table.add_row("", Text(more, style="dim"))
        if number < len(groups) - 1:
            table.add_row()
    return table


def _field_grid(pairs: list[tuple[str, RenderableType | str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in pairs:
        grid.add_row(label, plain(value) if isinstance(value, str) else value)
    return grid


def clock_time(stamp: str, now: datetime) -> str:
    """A stored time as local wall-clock time; the date only when it is not today."""
    moment = parse_iso(stamp).astimezone()
    if moment.date() == now.astimezone().date():
        return f"{moment:%H:%M:%S}"
    return f"{moment:%Y-%m-%d %H:%M:%S}"


def card_detail(detail: CardDetail, now: datetime) -> RenderableType:
    """`board show`: the card's fields, body, result, runs and events."""
    card = detail.card
    head = Text.assemble(
        (f"card {card.id}  ", "bold"), plain(card.title, "bold"), "  ", status_text(card.status)
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
    if card.not_before and parse_iso(card.not_before) > now:
        fields.append(("starts", f"in {until(card.not_before, now)} ({card.not_before})"))
    fields += [
        ("depends on", _ids(card.depends_on)),
        ("dependents", _ids(card.dependents)),
    ]
    if card.blocked_by:
        fields.append(("blocked by", Text(_ids(card.blocked_by), style="yellow")))
    fields += [
        ("created", f"{card.created_at} ({age(card.created_at, now)} ago)"),
        ("updated", f"{card.updated_at} ({age(card.updated_at, now)} ago)"),
    ]
    waiting = pending_request(detail)
    if waiting is not None:
        fields.append(("waiting for", waiting))
    last = detail.runs[-1] if detail.runs else None
    if last is not None and last.error and last.outcome != "running":
        fields.append(("last error", plain(last.error, "red")))
    parts: list[RenderableType] = [head, _field_grid(fields)]
    if card.body:
        parts += [Text("\nbody", style="bold"), Padding(plain(card.body), (0, 0, 0, 2))]
    if card.result:
        parts += [Text("\nresult", style="bold"), Padding(plain(card.result), (0, 0, 0, 2))]
    if detail.runs:
        parts += [Text("\nruns", style="bold"), _runs_view(detail, now)]
    parts += [Text("\nevents", style="bold"), _events_view(detail, now)]
    return Group(*parts)


def pending_request(detail: CardDetail) -> Text | None:
    """What a card in `needs_input` waits for, and the command that answers it."""
    if detail.card.status != Status.NEEDS_INPUT:
        return None
    asked = next((e for e in reversed(detail.events) if e.kind == "needs_input"), None)
    if asked is None:
        return None
    card = detail.card.id
    if asked.data.get("kind") == "question":
        return Text.assemble(
            ("an answer: ", "bold magenta"),
            plain(str(asked.data.get("question", ""))),
            (f"\n  hermes board reply {card} TEXT", "dim"),
        )
    return Text.assemble(
        ("approval to run: ", "bold magenta"),
        plain(str(asked.data.get("command", ""))),
        plain(f"\n  {asked.data.get('risk')} risk: {asked.data.get('reason')}"),
        (f"\n  hermes board approve {card}   or   hermes board reject {card} --reason TEXT", "dim"),
    )


def _duration(start: str, end: str) -> str:
    seconds = (parse_iso(end) - parse_iso(start)).total_seconds()
    return f"{seconds:.1f}s" if seconds < 60 else age(start, parse_iso(end))


def _runs_view(detail: CardDetail, now: datetime) -> Table:
    """One line per run (attempt, outcome, who, when, usage), its error under it."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", style="bold")
    grid.add_column(overflow="fold")
    for run in detail.runs:
        ended = clock_time(run.ended_at, now) if run.ended_at else "now"
        line = Text.assemble(
            f"attempt {run.attempt}  ",
            (run.outcome, OUTCOME_STYLE.get(run.outcome, "")),
            f" (exit {run.exit_code})" if run.exit_code is not None else "",
            printable(f"  pid {run.pid} on {run.host}") if run.pid is not None else "",
            f"  {clock_time(run.started_at, now)} → {ended}",
            f" ({_duration(run.started_at, run.ended_at)})" if run.ended_at else "",
        )
        if run.tokens_in is not None:
            line.append(f"  tokens {run.tokens_in:,} in / {run.tokens_out or 0:,} out")
        if run.cost_usd is not None:
            line.append(f"  ${run.cost_usd:.4f}")
        if run.error:
            line.append(printable(f"\n{run.error}"), style="red")
        grid.add_row(f"run {run.id}", line)
    return grid


def _events_view(detail: CardDetail, now: datetime) -> Table:
    """One line per event: time, kind, who, and what changed."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for event in detail.events:
        data = dict(event.data)
        change = Text("")
        if "to" in data:
            src, dst = data.pop("from", None), data.pop("to")
            change = Text.assemble(f"{src} → " if src else "→ ", status_text(dst), "  ")
        rest = "  ".join(
            f"{k}={v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
            for k, v in data.items()
            if v not in (None, [], {})
        )
        change.append(printable(rest))
        grid.add_row(clock_time(event.at, now), plain(event.kind), plain(event.actor), change)
    return grid


def stats_view(stats: dict[str, Any]) -> RenderableType:
    """`board stats`: cards per status and profile, runs, tokens and cost per profile."""
    cards = Table(title=f"cards  {stats['cards']}", title_justify="left")
    cards.add_column("profile", style="bold")
    statuses = [s.value for s in Status if stats["by_status"][s.value]]
    for status in statuses:
        cards.add_column(status_text(status), justify="right")
    for profile, counts in sorted(stats["by_profile"].items()):
        cards.add_row(plain(profile), *(str(counts.get(s, "")) for s in statuses))
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
            plain(profile),
            str(entry["runs"]),
            outcomes,
            _count(entry["tokens_in"]),
            _count(entry["tokens_out"]),
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
            plain(profile.name),
            Text.assemble(plain(" · ".join(limits)), "\n", plain(profile.description, "dim")),
        )
    return table


def profile_view(profile: Profile, path: Path) -> RenderableType:
    """`profiles show`: the fields that apply to this profile's runner, and its file."""
    values = profile.model_dump(mode="json")
    fields: list[tuple[str, RenderableType | str]] = [("name", plain(profile.name, "bold"))]
    for key in dict.fromkeys(COMMON_FIELDS + RUNNER_FIELDS[profile.runner]):
        value = values[key]
        shown = value if isinstance(value, str) else json.dumps(value)
        fields.append((key, shown))
    fields.append(("file", str(path)))
    return _field_grid(fields)


def status_view(
    dispatchers: list[DispatcherInfo], live: list[LiveRun], now: datetime
) -> RenderableType:
    """`dispatcher status`: who runs the board, and every live run with its lease."""
    if dispatchers:
        table = Table(title="dispatchers", title_justify="left", box=box.SIMPLE_HEAD)
        for name in ("id", "state", "concurrency", "started", "last tick"):
            table.add_column(name, no_wrap=True)
        for info in dispatchers:
            state = Text("stopped", style="grey50") if info.stopped_at else Text("running", "green")
            table.add_row(
                plain(info.id),
                state,
                str(info.concurrency),
                f"{age(info.started_at, now)} ago",
                f"{age(info.heartbeat_at, now)} ago",
            )
        head: RenderableType = table
    else:
        head = Text("No dispatcher has run in the last hour: hermes dispatcher start", "dim")
    if not live:
        return Group(head, Text("No live runs.", style="dim"))
    runs = Table(title=f"live runs  {len(live)}", title_justify="left", box=box.SIMPLE_HEAD)
    runs.add_column("run", justify="right", no_wrap=True, min_width=3)
    runs.add_column("card", overflow="ellipsis", no_wrap=True, max_width=20)
    for name, width in (("profile", 7), ("status", 11), ("pid", 7), ("beat", 7), ("lease", 6)):
        runs.add_column(name, no_wrap=True, min_width=width)
    for entry in live:
        run = entry.run
        expires = parse_iso(run.lease_expires_at)
        lease = until(run.lease_expires_at, now) if expires > now else "expired"
        where = "" if run.host in (None, socket.gethostname()) else f"@{run.host}"
        runs.add_row(
            str(run.id),
            plain(f"{run.card_id} {first_line(entry.title)}"),
            plain(entry.profile),
            status_text(entry.status),
            plain(f"{run.pid}{where}" if run.pid else "starting"),
            f"{age(run.heartbeat_at, now)} ago",
            Text(lease, style="red" if expires <= now else ""),
        )
    return Group(head, runs)


def jobs_table(jobs: list[CronJob], last: dict[int, Card], now: datetime) -> RenderableType:
    """`cron list`: each job's schedule, next fire, and its last card with its status."""
    if not jobs:
        return Text(
            "No cron jobs. Add one with: hermes cron add 'every day at 9am' 'Report'", "dim"
        )
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in ("id", "schedule", "title", "profile", "next fire", "last card"):
        table.add_column(
            name, no_wrap=True, overflow="ellipsis", min_width=10 if name == "title" else None
        )
    for job in jobs:
        if job.paused:
            upcoming = Text("paused", style="grey50")
        elif job.next_fire_at:
            upcoming = Text(f"in {until(job.next_fire_at, now)}")
        else:
            upcoming = Text("never", style="grey50")
        card = last.get(job.id)
        last_text = (
            Text.assemble(f"{card.id} ", status_text(card.status))
            if card
            else Text("-", style="dim")
        )
        table.add_row(
            str(job.id),
            plain(f"{job.schedule} ({job.tz})"),
            plain(first_line(job.title)),
            plain(job.profile),
            upcoming,
            last_text,
        )
    return table


def goal_tree(report: dict[str, Any]) -> RenderableType:
    """`goal status`: the goal, its cards with status and result, the verdicts, the budget."""
    from rich.tree import Tree

    goal = report["goal"]
    head = Text.assemble(
        (f"goal {goal['id']}  ", "bold"),
        plain(goal["title"], "bold"),
        "  ",
        status_text(goal["status"]),
        (f"  turn {report['turns']} of {report['budget']}, {report['turns_left']} left", "dim"),
    )
    tree = Tree(head)
    for child in report["children"]:
        line = Text.assemble(
            f"{child['id']} ",
            plain(first_line(child["title"]), "bold"),
            "  ",
            status_text(child["status"]),
        )
        if child["blocked_by"]:
            line.append(f"  after {_ids(child['blocked_by'])}", style="yellow")
        result = (child["result"] or "").strip().splitlines()
        if result:
            line.append(printable(f"  {result[-1][:80]}"), style="dim")
        tree.add(line)
    if not report["children"]:
        tree.add(Text("no cards yet", style="dim"))
    parts: list[RenderableType] = [tree]
    if report["verdicts"]:
        verdicts = Table.grid(padding=(0, 2))
        for verdict in report["verdicts"]:
            mark = Text("met", "green") if verdict["done"] else Text("not met", "yellow")
            verdicts.add_row(f"turn {verdict['turn']}", mark, plain(verdict["reason"]))
        parts += [Text("\nverdicts", style="bold"), verdicts]
    return Group(*parts)
