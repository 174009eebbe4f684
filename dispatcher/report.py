"""The dispatcher's lines: one thing that happened per line, worded for the person watching.

Text from the board (titles, commands, questions, errors) goes in as it is; the front
door that prints the lines makes them safe for a terminal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from board import Status
from board.clock import parse_iso, until
from board.dispatch_ops import RunEnd, Scheduled


def finished(card_id: int, end: RunEnd | None, seconds: float) -> str:
    """How a run ended: `card 3 done after 0.4s`, a retry's time, a planner turn's wait."""
    took = f"after {seconds:.1f}s"
    if end is None or (end.run.outcome == "done" and end.planned is None):
        status = end.status if end is not None else "done"
        return f"card {card_id} {status} {took}"
    run = end.run
    if end.planned is not None:
        return f"card {card_id} planned {took}: {_planned(end)}"
    if end.status == Status.READY and end.not_before:
        return (
            f"card {card_id} attempt {run.attempt} {run.outcome} {took} ({run.error}); "
            f"retrying at {clock(end.not_before)}"
        )
    return f"card {card_id} {end.status} {took}: {run.error}"


def _planned(end: RunEnd) -> str:
    """What a goal does after a planner turn: wait for its cards, or be judged at once."""
    turn = end.planned.get("turn") if end.planned else None
    which = f" (planner turn {turn})" if turn else ""
    waiting = end.unfinished_children
    if waiting == 0 or end.status != Status.WAITING:
        return f"its cards are finished; the judge decides next{which}"
    cards = "card" if waiting == 1 else "cards"
    return f"waits for its {waiting} {cards}{which}"


def waiting(card_id: int, title: str, request: dict[str, Any] | None) -> list[str]:
    """A card paused on a human: what it asks, then (indented) the command that answers
    it, on a line of its own so it can be copied whole."""
    request = request or {}
    head = f"card {card_id} {title!r}"
    if request.get("kind") == "question":
        return [
            f"{head} asks: {request.get('question', '')}",
            f"  answer: hermes board reply {card_id} TEXT",
        ]
    if request.get("kind") == "approval":
        risk = request.get("risk") or "unknown"
        reason = f": {request['reason']}" if request.get("reason") else ""
        return [
            f"{head} waits for approval to run: {request.get('command', '')} ({risk} risk{reason})",
            f"  answer: hermes board approve {card_id}   or: hermes board reject {card_id}",
        ]
    return [f"{head} waits for a human", f"  see: hermes board show {card_id}"]


def resumed(card_id: int, answer: tuple[str, dict[str, Any]] | None) -> str:
    """A paused card runs again, and why."""
    if answer is None:
        return f"card {card_id} resumed"
    kind, data = answer
    if kind == "approved" and data.get("auto"):
        return f"card {card_id} resumed: approved on its own after {data.get('after_seconds')}s"
    if kind == "rejected":
        return f"card {card_id} resumed: rejected ({data.get('reason') or 'no reason given'})"
    if kind == "answered":
        return f"card {card_id} resumed with its answer"
    return f"card {card_id} resumed: {kind}"


def scheduled(next_up: Scheduled, now: datetime) -> str:
    """What an `--until-idle` dispatcher waits for when nothing can run before later."""
    what = "retries" if next_up.attempts else "starts"
    more = next_up.count - 1
    later = f"; {more} more later" if more else ""
    return (
        f"waiting until {clock(next_up.not_before)} (in {until(next_up.not_before, now)}): "
        f"card {next_up.card_id} {next_up.title!r} {what}{later}"
    )


def clock(stamp: str) -> str:
    """A moment in local time: `14:05:03`, with the date when it is not today."""
    moment = parse_iso(stamp).astimezone()
    if moment.date() != datetime.now().astimezone().date():
        return f"{moment:%Y-%m-%d %H:%M:%S}"
    return f"{moment:%H:%M:%S}"
