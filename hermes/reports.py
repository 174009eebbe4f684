"""The JSON documents the board's read commands print, built once for every front door.

`hermes goal status --json`, `GET /api/goals/...`, the MCP tool `goal_status` and the web
page all show a goal the same way; so do a card's log, the cron jobs, the cards waiting
for a person and the card a worktree belongs to. Each function takes an open store and
returns plain JSON-ready values; unknown ids raise the board's own `NotFound`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from board import Status, Store
from board.clock import parse_iso
from hermes.errors import InvalidInput, NotFound
from hermes.paths import logs_dir


def goal_report(store: Store, goal_id: int) -> dict[str, Any]:
    """A goal, its cards, the planner's turns and the judge's verdicts so far."""
    detail = store.detail(goal_id)  # an unknown id is reported as such
    budget = store.goal_budget(goal_id)
    if budget is None:
        raise InvalidInput(
            f"card {goal_id} is not a goal", cli_hint=f"see `hermes board show {goal_id}`"
        )
    turns = [e for e in detail.events if e.kind == "planned"]
    verdicts = [e for e in detail.events if e.kind == "verdict"]
    return {
        "goal": detail.card.to_json(),
        "budget": budget,
        "turns": len(turns),
        "turns_left": max(0, budget - len(turns)),
        "children": [child.to_json() for child in store.children(goal_id)],
        "plans": [{"at": e.at, **e.data} for e in turns],
        "verdicts": [{"at": e.at, **e.data} for e in verdicts],
    }


def card_log(store: Store, card_id: int) -> dict[str, Any]:
    """Every run's output of a card as it is now, and what the card waits for."""
    from workers.logs import card_logs

    store.card(card_id)  # unknown ids are an error, not an empty log
    runs = [
        {"run": int(path.stem.removeprefix("run-")), "log": path.read_text("utf-8", "replace")}
        for path in card_logs(logs_dir(), card_id)
    ]
    return {"card": card_id, "runs": runs, "waiting_for": store.pending_requests().get(card_id)}


def cron_jobs(store: Store) -> list[dict[str, Any]]:
    """Every cron job, with the status of the card it made last."""
    jobs = store.jobs()
    last = {j.id: store.card(j.last_card_id) for j in jobs if j.last_card_id is not None}
    return [
        {**job.to_json(), "last_card_status": last[job.id].status if job.id in last else None}
        for job in jobs
    ]


def waiting_for_people(store: Store) -> list[dict[str, Any]]:
    """Every card paused for a person, with the request it waits on (oldest first)."""
    cards = [(store.card(i), request) for i, request in sorted(store.pending_requests().items())]
    return [
        {**card.to_json(), "request": request}
        for card, request in cards
        if card.status == Status.NEEDS_INPUT
    ]


def card_at(store: Store, path: Path) -> dict[str, Any]:
    """The card whose worktree (or scratch folder) holds `path`: where an agent or a
    coding CLI working a card finds out which card it is working."""
    resolved = path.resolve()
    for folder in (resolved, *resolved.parents):
        number = folder.name.removeprefix("card-")
        if folder.name.startswith("card-") and number.isdigit():
            try:
                card = store.card(int(number))
            except NotFound:
                continue
            if card.worktree and Path(card.worktree).resolve() == folder:
                return card.to_json()
    raise NotFound(f"{resolved} is not inside a card's worktree")


def dispatchers(store: Store, now: datetime) -> dict[str, Any]:
    """Every dispatcher on the board with its judged state, and the live runs."""
    from dispatcher.registry import judge

    registry = store.registry(now)
    runs = [
        {
            **entry.run.to_json(),
            "card_id": entry.run.card_id,
            "title": entry.title,
            "profile": entry.profile,
            "status": entry.status,
        }
        for entry in store.live_runs()
    ]
    found = [
        {
            **entry.info.to_json(),
            "state": judge(entry, now),
            "lease": entry.lease,
            "stop_requested_at": entry.stop_requested_at,
        }
        for entry in registry
    ]
    return {"dispatchers": found, "runs": runs}


#: Seconds after which a gateway's heartbeat says it is no longer running.
GATEWAY_FRESH = 20.0


def platforms(store: Store, configured: Iterable[str], now: datetime) -> list[dict[str, Any]]:
    """Each chat platform set up or seen: running, connected, last message, backlog."""
    states = {state["platform"]: state for state in store.gateway_states()}

    def fresh(heartbeat_at: str | None) -> bool:
        return heartbeat_at is not None and age_seconds(heartbeat_at, now) < GATEWAY_FRESH

    rows = []
    for name in sorted(set(configured) | set(states)):
        state = states.get(name, {})
        rows.append(
            {
                "platform": name,
                "configured": name in configured,
                "running": bool(state) and fresh(state["heartbeat_at"]),
                "connected": bool(state.get("connected")) and fresh(state.get("heartbeat_at")),
                "last_message_at": state.get("last_message_at"),
                "undelivered": state.get("undelivered", 0),
                "failing": state.get("failing", 0),
                "last_error": state.get("last_error"),
            }
        )
    return rows


def board_status(store: Store, configured: Iterable[str], now: datetime) -> dict[str, Any]:
    """The board at a glance for `GET /api/status`: dispatchers, counts, platforms."""
    stats = store.stats(now)
    return {
        **dispatchers(store, now),
        "counts": stats["by_status"],
        "platforms": platforms(store, configured, now),
    }


def age_seconds(stamp: str, now: datetime) -> float:
    """Seconds from an ISO time on the board to `now`."""
    return (now - parse_iso(stamp)).total_seconds()
