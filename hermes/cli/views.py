"""How the board looks to a person: `board list`, `show`, `stats`, `cron list`,
`goal status`, `dispatcher status` and the profiles, drawn with `hermes.cli.text` (no
rich: these commands must answer in a fraction of a second on a board of thousands of
cards).

Only human output lives here; `--json` output is the records' `to_json()`. Every piece
of user or agent text goes through `one_line` (titles, cells) or `printable` (bodies),
so it is shown, never obeyed, by the terminal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from board import Card, CardDetail, DispatcherInfo, LiveRun, Status
from board.clock import age, compact_seconds, parse_iso, until
from hermes.cli.printable import one_line, printable
from hermes.cli.text import Block, Column, Group, Line, Table, View
from hermes.paths import this_host

if TYPE_CHECKING:
    from board.cron_ops import CronJob
    from profiles import Profile

STATUS_STYLE: dict[str, str] = {
    "backlog": "grey",
    "waiting": "yellow",
    "ready": "cyan",
    "running": "bold blue",
    "needs_input": "bold magenta",
    "review": "magenta",
    "done": "green",
    "failed": "bold red",
    "cancelled": "grey",
}
OUTCOME_STYLE = {
    "running": "blue",
    "done": "green",
    "failed": "red",
    "timeout": "red",
    "reclaimed": "yellow",
    "cancelled": "grey",
}
RISK_STYLE = {"high": "bold red", "medium": "yellow", "low": "dim"}


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`1 attempt`, `3 attempts`, `1,000 cards`."""
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"


def status_text(status: str) -> tuple[str, str]:
    """A status name in its colour, as a span."""
    return (status, STATUS_STYLE.get(status, ""))


def _ids(ids: list[int]) -> str:
    return ", ".join(str(i) for i in ids) or "-"


def _cards(ids: list[int]) -> str:
    return f"{'card' if len(ids) == 1 else 'cards'} {_ids(ids)}"


# -- what a card waits for ------------------------------------------------------------


def request_line(request: dict[str, Any]) -> Line:
    """A pending request in one line: `approve: git push -f (high risk)`, `answer: ...`."""
    if request.get("kind") == "question":
        return Line(("answer: ", "bold magenta"), one_line(str(request.get("question", ""))))
    if request.get("kind") == "approval":
        risk = str(request.get("risk") or "")
        line = Line(("approve: ", "bold magenta"), one_line(str(request.get("command", ""))))
        if risk:
            line.append(f" ({one_line(risk)} risk)", RISK_STYLE.get(risk, ""))
        return line
    return Line(("a human: ", "bold magenta"), one_line(str(request.get("kind", "?"))))


def waiting_for(card: Card, request: dict[str, Any] | None, now: datetime) -> Line:
    """What holds a card back: a human, unfinished dependencies, a start time ahead."""
    if card.status == Status.NEEDS_INPUT:
        return request_line(request) if request else Line(("a human", "bold magenta"))
    if card.status == Status.REVIEW:
        return Line(("your review", "magenta"))
    if card.blocked_by and card.status not in (Status.DONE, Status.CANCELLED):
        return Line((_cards(card.blocked_by), "yellow"))
    if card.not_before and card.status == Status.READY and parse_iso(card.not_before) > now:
        return Line((f"start in {until(card.not_before, now)}", "cyan"))
    return Line()


# -- board list -----------------------------------------------------------------------


def card_list(
    cards: list[Card], requests: dict[int, dict[str, Any]], now: datetime, limit: int | None
) -> View:
    """`board list`: one table, a section per status in the state machine's order."""
    if not cards:
        return Line(("No cards. Add one with: hermes board add 'What needs doing'", "dim"))
    table = Table(
        [
            Column("ID", justify="right", style="bold"),  # never shrinks: every command needs it
            Column("Title", shrink_to=12),
            Column("Profile", shrink_to=7, drop=3),
            Column("Pri", justify="right", drop=1, optional=True),
            Column("Age", justify="right", drop=4),
            # Folds rather than cuts: what a paused card asks must be readable here.
            Column("Waiting for", shrink_to=14, wrap=True, optional=True),
            Column("Labels", shrink_to=6, drop=2, style="dim", optional=True),
        ]
    )
    groups: dict[str, list[Card]] = {status.value: [] for status in Status}
    for card in cards:
        groups[card.status].append(card)
    sections = [(status, group) for status, group in groups.items() if group]
    for number, (status, group) in enumerate(sections):
        group.sort(key=lambda c: (-c.priority, c.id))
        shown = group if limit is None else group[:limit]
        if number:
            table.add_line(Line())
        table.add_line(Line(status_text(status), (f" {len(group):,}", "dim")), at=1)
        for card in shown:
            table.add_row(
                str(card.id),
                one_line(card.title),
                one_line(card.profile),
                str(card.priority) if card.priority else "",
                age(card.created_at, now),
                waiting_for(card, requests.get(card.id), now),
                one_line(", ".join(card.labels)),
            )
        if len(group) > len(shown):
            more = (
                f"… {len(group) - len(shown):,} more: hermes board list --status {status} --limit 0"
            )
            table.add_line(Line((more, "dim")), at=1)
    return table


# -- board show -----------------------------------------------------------------------


def fields(pairs: list[tuple[str, Line | str | list[Line]]]) -> Table:
    """Label and value pairs; values fold onto more lines, labels stay put."""
    table = Table([Column(style="bold"), Column(shrink_to=20, wrap=True)], headers=False)
    for label, value in pairs:
        table.add_row(label, Line(one_line(value)) if isinstance(value, str) else value)
    return table


def clock_time(stamp: str, now: datetime) -> str:
    """A stored time as local wall-clock time; the date only when it is not today."""
    moment = parse_iso(stamp).astimezone()
    if moment.date() == now.astimezone().date():
        return f"{moment:%H:%M:%S}"
    return f"{moment:%Y-%m-%d %H:%M:%S}"


def card_detail(detail: CardDetail, now: datetime) -> View:
    """`board show`: the card's fields, body, result, runs and events."""
    card = detail.card
    head = Line((f"card {card.id}  ", "bold"), (one_line(card.title), "bold"), "  ")
    head.append(*status_text(card.status))
    parts: list[View] = [head, fields(_card_fields(detail, now))]
    if card.body:
        parts += [Line(), Line(("body", "bold")), _text_block(card.body)]
    if card.result:
        parts += [Line(), Line(("result", "bold")), _text_block(card.result)]
    if detail.runs:
        parts += [Line(), Line(("runs", "bold")), _runs_view(detail, now)]
    parts += [Line(), Line(("events", "bold")), _events_view(detail, now)]
    return Group(parts)


def _text_block(text: str, style: str = "") -> Block:
    """A body or result: its own lines, control characters spelled out, indented."""
    return Block([Line((line, style)) for line in printable(text).split("\n")], indent=2)


def _card_fields(detail: CardDetail, now: datetime) -> list[tuple[str, Line | str | list[Line]]]:
    card = detail.card
    repo = f"{card.repo} (base {card.base})" if card.repo else "none (scratch workspace)"
    pairs: list[tuple[str, Line | str | list[Line]]] = [
        ("profile", card.profile),
        ("priority", str(card.priority)),
        ("attempts", f"{card.attempts}/{card.max_attempts}"),
        ("timeout", f"{card.timeout:g}s" if card.timeout else "-"),
        ("labels", ", ".join(card.labels) or "-"),
        ("source", card.source + (f"  key {card.key}" if card.key else "")),
        ("repo", repo),
    ]
    if card.branch or card.worktree:
        pairs.append(("branch", f"{card.branch or '-'}  worktree {card.worktree or '-'}"))
    if card.parent_id is not None:
        pairs.append(("parent", str(card.parent_id)))
    if card.not_before and parse_iso(card.not_before) > now:
        pairs.append(("starts", f"in {until(card.not_before, now)} ({card.not_before})"))
    pairs += [("depends on", _ids(card.depends_on)), ("dependents", _ids(card.dependents))]
    if card.blocked_by:
        pairs.append(("blocked by", Line((_ids(card.blocked_by), "yellow"))))
    pairs += [
        ("created", f"{card.created_at} ({age(card.created_at, now)} ago)"),
        ("updated", f"{card.updated_at} ({age(card.updated_at, now)} ago)"),
    ]
    waiting = pending_request(detail)
    if waiting:
        pairs.append(("waiting for", waiting))
    last = detail.runs[-1] if detail.runs else None
    if last is not None and last.error and last.outcome != "running":
        pairs.append(("last error", _error_lines(last.error)))
    return pairs


def _error_lines(error: str) -> list[Line]:
    return [Line((line, "red")) for line in printable(error).split("\n")]


def pending_request(detail: CardDetail) -> list[Line]:
    """What a card in `needs_input` waits for, and the command that answers it."""
    if detail.card.status != Status.NEEDS_INPUT:
        return []
    asked = next((e for e in reversed(detail.events) if e.kind == "needs_input"), None)
    if asked is None:
        return []
    card, data = detail.card.id, asked.data
    if data.get("kind") == "question":
        return [
            Line(("an answer: ", "bold magenta"), one_line(str(data.get("question", "")))),
            Line((f"hermes board reply {card} TEXT", "dim")),
        ]
    risk, reason = str(data.get("risk")), one_line(str(data.get("reason") or ""))
    return [
        Line(("approval to run: ", "bold magenta"), one_line(str(data.get("command", "")))),
        Line((f"{one_line(risk)} risk", RISK_STYLE.get(risk, "")), f": {reason}" if reason else ""),
        Line(
            (f"hermes board approve {card}   or   hermes board reject {card} --reason TEXT", "dim")
        ),
    ]


def _duration(start: str, end: str) -> str:
    seconds = (parse_iso(end) - parse_iso(start)).total_seconds()
    return f"{seconds:.1f}s" if seconds < 60 else age(start, parse_iso(end))


def _runs_view(detail: CardDetail, now: datetime) -> Table:
    """One line per run (attempt, outcome, who, when, usage), its error under it."""
    table = Table(
        [Column(justify="right", style="bold"), Column(shrink_to=20, wrap=True)],
        headers=False,
        gap=1,
    )
    for run in detail.runs:
        ended = clock_time(run.ended_at, now) if run.ended_at else "now"
        line = Line(f"attempt {run.attempt}  ", (run.outcome, OUTCOME_STYLE.get(run.outcome, "")))
        if run.exit_code is not None:
            line.append(f" (exit {run.exit_code})")
        if run.pid is not None:
            line.append(one_line(f"  pid {run.pid} on {run.host}"))
        line.append(f"  {clock_time(run.started_at, now)} → {ended}")
        if run.ended_at:
            line.append(f" ({_duration(run.started_at, run.ended_at)})")
        if run.tokens_in is not None:
            line.append(f"  tokens {run.tokens_in:,} in / {run.tokens_out or 0:,} out")
        if run.cost_usd is not None:
            line.append(f"  ${run.cost_usd:.4f}")
        table.add_row(f"run {run.id}", [line, *(_error_lines(run.error) if run.error else [])])
    return table


def _events_view(detail: CardDetail, now: datetime) -> Table:
    """One line per event: time, kind, who, and what changed."""
    table = Table(
        [
            Column(style="dim"),
            Column(style="bold"),
            Column(shrink_to=10, drop=1),
            Column(shrink_to=20, wrap=True),
        ],
        headers=False,
        gap=1,
    )
    for event in detail.events:
        data = dict(event.data)
        change = Line()
        if "to" in data:
            src, dst = data.pop("from", None), data.pop("to")
            change.append(f"{src} → " if src else "→ ").append(*status_text(str(dst)))
            change.append("  ")
        rest = "  ".join(
            f"{k}={v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
            for k, v in data.items()
            if v not in (None, [], {})
        )
        change.append(one_line(rest))
        table.add_row(
            clock_time(event.at, now), one_line(event.kind), one_line(event.actor), change
        )
    return table


# -- board stats ----------------------------------------------------------------------


def stats_view(stats: dict[str, Any]) -> View:
    """`board stats`: cards per status and profile, runs, tokens and cost per profile."""
    if not stats["cards"]:
        return Line("The board is empty. Add a card with: hermes board add 'What needs doing'")
    statuses = [s.value for s in Status if stats["by_status"][s.value]]
    cards = Table([Column("profile", shrink_to=8), *(Column(s, justify="right") for s in statuses)])
    for profile, counts in sorted(stats["by_profile"].items()):
        cards.add_row(
            one_line(profile), *(f"{counts[s]:,}" if s in counts else "" for s in statuses)
        )
    parts: list[View] = [Line((plural(stats["cards"], "card"), "bold")), cards]
    oldest = stats["oldest_ready_age_seconds"]
    if oldest is not None:
        parts += [Line(), Line(f"The oldest ready card has waited {compact_seconds(oldest)}.")]
    runs = stats["runs"]
    parts += [Line(), Line((plural(runs["total"], "run"), "bold"))]
    if not runs["total"]:
        parts.append(Line(("No runs yet: hermes dispatcher start works the ready cards.", "dim")))
        return Group(parts)
    table = Table(
        [
            Column("profile", shrink_to=8),
            Column("runs", justify="right"),
            Column("outcomes", shrink_to=10, wrap=True),
            Column("tokens in", justify="right", drop=2),
            Column("tokens out", justify="right", drop=1),
            Column("cost", justify="right"),
        ]
    )
    for profile, entry in sorted(runs["by_profile"].items()):
        outcomes = ", ".join(f"{k} {v:,}" for k, v in sorted(entry["by_outcome"].items()))
        cost = entry["cost_usd"]
        table.add_row(
            one_line(profile),
            f"{entry['runs']:,}",
            Line(outcomes),
            _count(entry["tokens_in"]),
            _count(entry["tokens_out"]),
            f"${cost:.4f}" if cost is not None else "-",
        )
    parts.append(table)
    return Group(parts)


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


# -- cron list ------------------------------------------------------------------------


def jobs_table(jobs: list[CronJob], last: dict[int, Card], now: datetime) -> View:
    """`cron list`: each job's schedule, next fire, and its last card with its status."""
    if not jobs:
        return Line(
            ("No cron jobs. Add one with: hermes cron add 'every day at 9am' 'Report'", "dim")
        )
    table = Table(
        [
            Column("ID", justify="right", style="bold"),  # never shrinks: `cron rm ID` needs it
            Column("Schedule", shrink_to=12),
            Column("Title", shrink_to=10),
            Column("Profile", shrink_to=7, drop=1),
            Column("Next fire"),
            Column("Last card", shrink_to=9, drop=2),
        ]
    )
    for job in jobs:
        if job.paused:
            upcoming = Line(("paused", "grey"))
        elif job.next_fire_at and parse_iso(job.next_fire_at) <= now:
            upcoming = Line(("due", "cyan"))  # fires when a dispatcher next looks
        elif job.next_fire_at:
            upcoming = Line(f"in {until(job.next_fire_at, now)}")
        else:
            upcoming = Line(("never", "grey"))
        card = last.get(job.id)
        last_card = Line(f"{card.id} ", status_text(card.status)) if card else Line(("-", "dim"))
        table.add_row(
            str(job.id),
            one_line(f"{job.schedule} ({job.tz})"),
            one_line(job.title),
            one_line(job.profile),
            upcoming,
            last_card,
        )
    return table


# -- dispatcher status ----------------------------------------------------------------

DISPATCHER_STYLE = {
    "running": "green",
    "stopping": "yellow",
    "unresponsive": "bold yellow",
    "gone": "bold red",
    "stopped": "grey",
}


def dispatchers_table(dispatchers: list[DispatcherInfo], states: list[str], now: datetime) -> View:
    """Who runs the board: each dispatcher with its state (`states`, in the same order)
    and when it last ticked. A `gone` one died without saying so (kill -9, its host lost)."""
    if not dispatchers:
        return Line(("No dispatcher has run in the last hour: hermes dispatcher start", "dim"))
    table = Table(
        [
            Column("id"),  # never shrinks: `dispatcher stop` and the logs name it
            Column("state"),
            Column("concurrency", justify="right", drop=1),
            Column("started", drop=2),
            Column("last tick"),
        ]
    )
    for info, state in zip(dispatchers, states, strict=True):
        table.add_row(
            one_line(info.id),
            Line((state, DISPATCHER_STYLE.get(state, ""))),
            str(info.concurrency),
            f"{age(info.started_at, now)} ago",
            f"{age(info.heartbeat_at, now)} ago",
        )
    parts: list[View] = [Line(("dispatchers", "bold")), table]
    if "gone" in states:
        parts.append(
            Line(("gone: stopped without saying so (killed, or its host was lost)", "dim"))
        )
    return Group(parts)


def status_view(
    dispatchers: list[DispatcherInfo], states: list[str], live: list[LiveRun], now: datetime
) -> View:
    """`dispatcher status`: who runs the board, and every live run with its lease."""
    head = dispatchers_table(dispatchers, states, now)
    if not live:
        return Group([head, Line(), Line(("No live runs.", "dim"))])
    runs = Table(
        [
            Column("run", justify="right"),
            Column("card", shrink_to=12),
            Column("profile", shrink_to=7, drop=1),
            Column("status"),
            Column("pid", drop=2),
            Column("beat", drop=3),
            Column("lease"),
        ]
    )
    host = this_host()
    for entry in live:
        run = entry.run
        expires = parse_iso(run.lease_expires_at)
        lease = until(run.lease_expires_at, now) if expires > now else "expired"
        where = "" if run.host in (None, host) else f"@{run.host}"
        runs.add_row(
            str(run.id),
            one_line(f"{run.card_id} {entry.title}"),
            one_line(entry.profile),
            Line(status_text(entry.status)),
            one_line(f"{run.pid}{where}") if run.pid else "starting",
            f"{age(run.heartbeat_at, now)} ago",
            Line((lease, "red" if expires <= now else "")),
        )
    return Group([head, Line(), Line((f"live runs  {len(live)}", "bold")), runs])


# -- goal status ----------------------------------------------------------------------


def goal_tree(report: dict[str, Any]) -> View:
    """`goal status`: the goal, its cards with status and result, the verdicts, the budget."""
    goal = report["goal"]
    head = Line((f"goal {goal['id']}  ", "bold"), (one_line(goal["title"]), "bold"), "  ")
    head.append(*status_text(goal["status"]))
    head.append(
        f"  turn {report['turns']} of {report['budget']}, {report['turns_left']} left", "dim"
    )
    children = report["children"]
    branches: list[Line] = []
    for child in children:
        line = Line(f"{child['id']} ", (one_line(child["title"]), "bold"), "  ")
        line.append(*status_text(child["status"]))
        if child["blocked_by"]:
            line.append(f"  after {_ids(child['blocked_by'])}", "yellow")
        result = (child["result"] or "").strip().splitlines()
        if result:
            line.append(f"  {one_line(result[-1][:80])}", "dim")
        branches.append(line)
    if not children:
        branches.append(Line(("no cards yet", "dim")))
    parts: list[View] = [head, _Tree(branches)]
    if report["verdicts"]:
        verdicts = Table([Column(), Column(), Column(shrink_to=20, wrap=True)], headers=False)
        for verdict in report["verdicts"]:
            mark = Line(("met", "green")) if verdict["done"] else Line(("not met", "yellow"))
            verdicts.add_row(f"turn {verdict['turn']}", mark, Line(one_line(verdict["reason"])))
        parts += [Line(), Line(("verdicts", "bold")), verdicts]
    return Group(parts)


class _Tree:
    """Branches under the line above: `├── `, `└── `, continued lines indented."""

    def __init__(self, branches: list[Line]) -> None:
        self.branches = branches

    def render(self, limit: int | None) -> list[Line]:
        room = None if limit is None else max(10, limit - 4)
        out = []
        for index, branch in enumerate(self.branches):
            last = index == len(self.branches) - 1
            for number, part in enumerate(branch.wrap(room)):
                if number:
                    glyph = "    " if last else "│   "
                else:
                    glyph = "└── " if last else "├── "
                out.append(Line((glyph, "dim")).extend(part))
        return out


# -- profiles -------------------------------------------------------------------------

#: The fields that matter for each runner; `profiles show` hides the others.
RUNNER_FIELDS = {
    "command": ("timeout",),
    "agent": ("model", "api_base", "api_key_env", "tools", "max_turns", "soul"),
    "cli": ("command",),
}
COMMON_FIELDS = ("description", "runner", "concurrency", "max_attempts", "timeout", "review")


def profiles_table(
    rows: Sequence[tuple[Mapping[str, Any], Path]],
    broken: Sequence[tuple[str, Path, str]] = (),
) -> View:
    """`profiles list`: each profile's limits on one line, its description under them; a
    broken file with what is wrong with it. A profile is its fields as
    `Profile.model_dump(mode="json")` gives them (so the list can come from the cache)."""
    from profiles import is_builtin

    table = Table([Column(style="bold"), Column(shrink_to=20, wrap=True)], headers=False)
    for fields, path in rows:
        timeout = fields["timeout"]
        limits = [
            str(fields["runner"]),
            f"{fields['concurrency']} at once",
            plural(int(fields["max_attempts"]), "attempt"),
            f"{timeout:g}s" if timeout else "no timeout",
        ]
        if fields["review"]:
            limits.append("review")
        limits.append("built-in" if is_builtin(path) else f"user ({path})")
        table.add_row(
            one_line(str(fields["name"])),
            [
                Line(one_line(" · ".join(limits))),
                Line((one_line(str(fields["description"])), "dim")),
            ],
        )
    for name, _path, error in broken:
        table.add_row(one_line(name), [Line(("broken: " + one_line(error), "red"))])
    return table


def profile_view(profile: Profile, path: Path) -> View:
    """`profiles show`: the fields that apply to this profile's runner, and its file."""
    values = profile.model_dump(mode="json")
    pairs: list[tuple[str, Line | str | list[Line]]] = [
        ("name", Line((one_line(profile.name), "bold")))
    ]
    for key in dict.fromkeys(COMMON_FIELDS + RUNNER_FIELDS[profile.runner]):
        value = values[key]
        if isinstance(value, str) and "\n" in value.strip():  # a soul: a paragraph
            pairs.append((key, [Line(line) for line in printable(value.strip()).split("\n")]))
        else:
            pairs.append((key, value if isinstance(value, str) else json.dumps(value)))
    pairs.append(("file", str(path)))
    return fields(pairs)
