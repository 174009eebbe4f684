"""What the bot says, once for every platform: plain text, short, with the card's id first.

A chat user is never told about a command-line flag or command: these are the chat's
own words. Long results are cut (the whole one is on the board).
"""

from __future__ import annotations

from typing import Any

from board import Card, CardDetail, Event
from gateway.chat.platform import BUTTON_PREFIX, Button, Outgoing

RESULT_CAP = 1500
TITLE_CAP = 80

HELP = """Send me a message and it becomes a card on the board; I tell you when it starts,
when it needs you and when it ends.
/goal OBJECTIVE - a goal: planned into cards and judged when they are done
/status - the board at a glance
/show ID - one card
/cancel ID, /retry ID - stop a card, or run a failed one again
/profile NAME your message - a card for another profile
Reply to my message about a card to answer its question or to add a comment."""


def title_of(text: str) -> str:
    """A card's title from a message: its first line, cut at 80 characters."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first if len(first) <= TITLE_CAP else first[: TITLE_CAP - 1] + "…"


def ack(card: Card, created: bool) -> str:
    """The answer to a message that became a card."""
    said = "" if created else " (already on the board)"
    return (
        f"card {card.id}: {card.title}{said}\n"
        "I'll tell you when it starts and when it ends; reply to this message to add a comment."
    )


def stranger(platform: str, user: str) -> str:
    """The one answer to someone not on the allow list."""
    return (
        f"You are not on this bot's allow list. Your {platform} id is {user}; whoever runs "
        f"hermes can allow you with: hermes gateway allow {platform} {user}"
    )


def status_line(card: Card, what: str) -> str:
    """The card's status message, as it is edited at each milestone."""
    return f"card {card.id} {what}: {card.title}"


def request(card: Card, data: dict[str, Any], run_id: int | None) -> Outgoing:
    """A card waiting for a person: an approval with buttons, or a question to reply to."""
    if data.get("kind") == "question":
        text = f"card {card.id} asks: {data.get('question', '')}\nReply to this message to answer."
        return Outgoing(text)
    risk = data.get("risk") or "unknown"
    text = (
        f"card {card.id} wants to run:\n{data.get('command', '')}\n"
        f"{risk} risk: {data.get('reason', '')}"
    )
    buttons = (
        Button("Approve", button_data("approve", card.id, run_id)),
        Button("Reject", button_data("reject", card.id, run_id)),
    )
    return Outgoing(text, buttons)


def answered(card: Card, event: Event) -> str:
    """A request someone answered (here or at another door): the buttons go."""
    who = event.actor.split(":", 1)[0] if ":" in event.actor else event.actor
    verb = {"approved": "approved", "rejected": "rejected", "answered": "answered"}[event.kind]
    return f"card {card.id}: {verb} ({who})"


def ended(detail: CardDetail, event: Event) -> str:
    """How a card ended: its result or error, with what it cost."""
    card = detail.card
    run = next((r for r in reversed(detail.runs) if r.id == event.run_id), None)
    if event.kind == "completed":
        head = f"card {card.id} done: {card.title}"
        if card.status == "review":
            head = f"card {card.id} finished, waiting for review: {card.title}"
        body = _cut(card.result or "")
    elif event.kind == "cancelled":
        head, body = f"card {card.id} cancelled: {card.title}", ""
    else:
        head = f"card {card.id} failed: {card.title}"
        body = _cut((run.error if run else None) or str(event.data.get("error") or ""))
    cost = _spend(run) if run else ""
    return "\n".join(part for part in (head, body, cost) if part)


def board_status(counts: dict[str, int], live: list[Card]) -> str:
    """`/status`: counts per status, and the cards at work or waiting for someone."""
    shown = [f"{n} {status}" for status, n in counts.items() if n]
    lines = ["the board: " + (", ".join(shown) if shown else "empty")]
    for card in live[:10]:
        lines.append(f"card {card.id} {card.status}: {card.title}")
    if len(live) > 10:
        lines.append(f"... and {len(live) - 10} more")
    return "\n".join(lines)


def card_text(detail: CardDetail, pending: dict[str, Any] | None) -> str:
    """`/show ID`: the card as a chat message."""
    card = detail.card
    lines = [f"card {card.id} ({card.status}, {card.profile}): {card.title}"]
    if card.blocked_by:
        lines.append("waits for cards " + ", ".join(map(str, card.blocked_by)))
    if pending is not None:
        asked = pending.get("question") or pending.get("command") or ""
        lines.append(f"waiting for: {asked}")
    if card.result:
        lines.append(_cut(card.result, 600))
    if detail.runs and detail.runs[-1].error:
        lines.append(f"last error: {_cut(detail.runs[-1].error, 300)}")
    return "\n".join(lines)


def button_data(action: str, card_id: int, run_id: int | None) -> str:
    """What a button carries: the action, the card and the run the request came from."""
    return f"{BUTTON_PREFIX}{action}:{card_id}:{run_id if run_id is not None else ''}"


def parse_button(data: str) -> tuple[str, int, int | None] | None:
    """(action, card, run) from a button's data; None if it is not one of ours."""
    if not data.startswith(BUTTON_PREFIX):
        return None
    parts = data.removeprefix(BUTTON_PREFIX).split(":")
    if len(parts) != 3 or parts[0] not in ("approve", "reject") or not parts[1].isdigit():
        return None
    run = int(parts[2]) if parts[2].isdigit() else None
    return parts[0], int(parts[1]), run


def _cut(text: str, cap: int = RESULT_CAP) -> str:
    text = text.strip()
    return text if len(text) <= cap else text[:cap] + f"\n[... {len(text) - cap} more]"


def _spend(run: Any) -> str:
    if not (run.tokens_in or run.tokens_out):
        return ""
    cost = f", ${run.cost_usd:.4f}" if run.cost_usd is not None else ""
    return f"{run.tokens_in:,} tokens in, {run.tokens_out:,} out{cost}"
