"""Card commands a person (or an intake: chat, cron, goals, MCP) makes on the board.

Each one validates, then runs as one write transaction: read what it needs under the
write lock, make its conditional UPDATE, write its event. A command that raises changes
nothing, because the transaction rolls back.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from board import queries as q
from board.base import retried, to_json_text
from board.cards import (
    MAX_ATTEMPTS_LIMIT,
    MAX_LINE_CHARS,
    MAX_TEXT_BYTES,
    MAX_TIMEOUT,
    PRIORITY_LIMIT,
    Card,
    NewCard,
)
from board.clock import iso
from board.db import Connection
from board.goal_ops import GoalCommands
from board.graph import cycle_message, dependency_path
from board.status import FINISHED, Action, Status, is_allowed, move_targets, sources
from hermes.errors import CycleError, IllegalTransition, InvalidInput

_CANCELLABLE = sources(Action.CANCEL)
_RETRYABLE = sources(Action.RETRY)
#: Statuses in which a worker holds the card: what it says cannot change under it.
_HELD = (Status.RUNNING, Status.NEEDS_INPUT)
#: What `edit` may change.
EDITABLE = ("title", "body", "profile", "priority", "labels", "model")
_DEPENDABLE = (Status.BACKLOG, Status.WAITING, Status.READY)


def check_line(what: str, text: str, field: str | None = None) -> None:
    """Refuse a title, label or key longer than `MAX_LINE_CHARS` (`what` may say
    `{field}`: see HermesError)."""
    if len(text) > MAX_LINE_CHARS:
        raise InvalidInput(
            f"{what} {_preview(text)} is {len(text):,} characters long; the limit is "
            f"{MAX_LINE_CHARS:,}: keep it to a line and put the details in the body",
            field=field,
        )


def check_text(what: str, text: str) -> None:
    """Refuse a body or comment larger than `MAX_TEXT_BYTES` (encoded as UTF-8)."""
    if len(text) > MAX_TEXT_BYTES // 4:  # cheap: only long text can be over the limit
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_TEXT_BYTES:
            raise InvalidInput(
                f"{what} {_preview(text)} is {size:,} bytes; the limit is {MAX_TEXT_BYTES:,} "
                "(1 MiB): put large inputs in a file the card names instead"
            )


def _preview(text: str) -> str:
    """The start of a long value, quoted, to name it in an error without printing it all."""
    return repr(text[:40]) + ("..." if len(text) > 40 else "")


def check_priority(priority: int) -> None:
    """Refuse a priority out of bounds."""
    if not -PRIORITY_LIMIT <= priority <= PRIORITY_LIMIT:
        raise InvalidInput(
            f"{{field}} {priority} must be between "
            f"-{PRIORITY_LIMIT:,} and {PRIORITY_LIMIT:,}; higher runs first",
            field="priority",
        )


def check_new_card(card: NewCard) -> None:
    """Refuse a card whose fields are out of bounds, naming the field and the fix."""
    if not card.title.strip():
        raise InvalidInput("the title is empty; give the card a title, e.g. 'Fix the login bug'")
    check_line("the title", card.title)
    check_text("the body", card.body)
    if not 1 <= card.max_attempts <= MAX_ATTEMPTS_LIMIT:
        raise InvalidInput(
            f"{{field}} {card.max_attempts} must be between 1 and {MAX_ATTEMPTS_LIMIT:,}",
            field="max_attempts",
        )
    check_priority(card.priority)
    if card.timeout is not None and not 0 < card.timeout <= MAX_TIMEOUT:  # also refuses NaN
        raise InvalidInput(
            f"{{field}} {card.timeout:g} must be a number of seconds above 0 "
            f"and at most {MAX_TIMEOUT:,.0f} (a year)",
            field="timeout",
        )
    if card.key is not None:
        if not card.key.strip():
            raise InvalidInput(
                "{field} is empty; give a non-empty idempotency key or leave it out", field="key"
            )
        check_line("{field}", card.key, field="key")
    for label in card.labels:
        if not label.strip():
            raise InvalidInput("{field} is empty; labels must be non-empty text", field="label")
        check_line("{field}", label, field="label")


class CardCommands(GoalCommands):
    """Create cards and make the moves a human (or an intake) may make."""

    @retried
    def add_card(
        self, card: NewCard, now: datetime, actor: str = "cli", *, fence: int | None = None
    ) -> tuple[int, bool]:
        """Create a card; returns (id, created). An existing `key` returns its card instead.

        `fence` is the run id of a worker creating the card: refused once that run is over.
        """
        check_new_card(card)
        with self._db.write() as cx:
            self._fence(cx, fence)
            return self._create(cx, card, iso(self._now(cx, now)), actor)

    def _create(self, cx: Connection, card: NewCard, stamp: str, actor: str) -> tuple[int, bool]:
        """Create a card inside an open write transaction (see `add_card`)."""
        if card.key is not None:
            found = cx.execute(q.CARD_ID_BY_KEY, {"key": card.key}).fetchone()
            if found:
                return int(found[0]), False
        after = list(dict.fromkeys(card.after))
        # shared locks: a dependency cannot finish (nor a goal wake) unseen meanwhile
        unfinished = [dep for dep in after if self._lock(cx, dep, share=True) is not Status.DONE]
        if card.parent_id is not None:
            self._lock(cx, card.parent_id, share=True)
        status = Status.BACKLOG if card.backlog else Status.WAITING if unfinished else Status.READY
        card_id = self._insert(cx, card, status, stamp)
        for dep in after:
            cx.execute(q.INSERT_DEPENDENCY, {"card_id": card_id, "depends_on": dep})
        if card.budget is not None:
            cx.execute(q.INSERT_GOAL, {"card_id": card_id, "budget": card.budget})
        data: dict[str, object] = {"source": card.source, "depends_on": after}
        if card.budget is not None:
            data["budget"] = card.budget
        self._transition(cx, card_id, None, status, Action.CREATE, actor, stamp, data)
        return card_id, True

    def _insert(self, cx: Connection, card: NewCard, status: Status, now: str) -> int:
        row = cx.execute(
            q.INSERT_CARD,
            {
                "title": card.title,
                "body": card.body,
                "status": status.value,
                "profile": card.profile,
                "priority": card.priority,
                "labels": to_json_text(list(dict.fromkeys(card.labels))),
                "parent_id": card.parent_id,
                "source": card.source,
                "key": card.key,
                "not_before": card.not_before,
                "repo": card.repo,
                "base": card.base,
                "max_attempts": card.max_attempts,
                "timeout": card.timeout,
                "model": card.model,
                "now": now,
            },
        ).fetchone()
        return int(row[0])

    @retried
    def add_dependency(self, card_id: int, on: int, now: datetime, actor: str = "cli") -> bool:
        """Make `card_id` wait for `on`; refuses self-dependencies and cycles (naming them).

        Returns False when the dependency already existed.
        """
        if card_id == on:
            raise CycleError(f"card {card_id} cannot depend on itself")
        with self._db.write() as cx:
            stamp = iso(self._now(cx, now))
            if self._sql.lock_graph is not None:  # cycle checks must see one graph
                cx.execute(self._sql.lock_graph)
            pair = cx.execute(self._sql.lock_pair, {"a": card_id, "b": on})
            locked = {row[0]: Status(row[1]) for row in pair}
            status = locked[card_id] if card_id in locked else self._status(cx, card_id)
            on_status = locked[on] if on in locked else self._status(cx, on)
            if status not in _DEPENDABLE:
                raise IllegalTransition(
                    f"card {card_id} is {status}; dependencies can only be added to "
                    "backlog, waiting or ready cards"
                )
            path = dependency_path(on, card_id, lambda ids: self._deps_of(cx, ids))
            if path is not None:
                raise CycleError(cycle_message(card_id, on, path))
            inserted = cx.execute(q.INSERT_DEPENDENCY, {"card_id": card_id, "depends_on": on})
            if inserted.rowcount == 0:
                return False
            self._event(cx, card_id, "dependency_added", actor, stamp, {"on": on})
            if status is Status.READY and on_status is not Status.DONE:
                self._set_status(cx, card_id, status, Status.WAITING, stamp)
                self._transition(cx, card_id, status, Status.WAITING, Action.BLOCK, actor, stamp)
        return True

    @retried
    def remove_dependency(self, card_id: int, on: int, now: datetime, actor: str = "cli") -> None:
        """Drop the dependency; a waiting card with nothing left to wait for becomes ready."""
        with self._db.write() as cx:
            stamp = iso(self._now(cx, now))
            locked = {row[0] for row in cx.execute(self._sql.lock_pair, {"a": card_id, "b": on})}
            for known in (card_id, on):
                if known not in locked:
                    self._status(cx, known)  # NotFound, naming it
            removed = cx.execute(q.DELETE_DEPENDENCY, {"card_id": card_id, "depends_on": on})
            if removed.rowcount == 0:
                raise InvalidInput(
                    f"card {card_id} does not depend on card {on}",
                    cli_hint=f"see `hermes board show {card_id}`",
                )
            self._event(cx, card_id, "dependency_removed", actor, stamp, {"on": on})
            self._promote(cx, card_id, stamp, actor)

    def _deps_of(self, cx: Connection, ids: Iterable[int]) -> dict[int, list[int]]:
        batch = list(ids)
        found: dict[int, list[int]] = {}
        sql = q.DEPENDS_ON_ANY.format(ids=q.placeholders("c", len(batch)))
        for card_id, dep in cx.execute(sql, q.bind_list("c", batch)):
            found.setdefault(card_id, []).append(dep)
        return found

    @retried
    def move(self, card_id: int, to: Status, now: datetime, actor: str = "cli") -> Status:
        """A human's manual move, checked against the transition table; returns the status.

        Moving to `waiting` a card with nothing to wait for makes it ready straight away;
        moving to `ready` a card that is still blocked is refused (move it to `waiting`).
        """
        with self._db.write() as cx:
            stamp = iso(self._now(cx, now))
            src = self._lock(cx, card_id)
            blockers: list[int] = []
            if to is Status.READY:
                self._share_dependencies(cx, card_id)
                blockers = self._blockers(cx, card_id)
            if blockers and src not in FINISHED:
                waits = ", ".join(map(str, blockers))
                hint = "it" if src is Status.WAITING else "move it to waiting and it"
                raise IllegalTransition(
                    f"card {card_id} cannot be ready: it waits for {waits}; "
                    f"{hint} starts by itself as soon as they are done"
                )
            if not is_allowed(src, to, Action.MOVE):
                raise IllegalTransition(_illegal_move(card_id, src, to))
            # A card sent back from review runs again with a fresh set of attempts.
            rerun = src is Status.REVIEW and to is Status.READY
            self._set_status(cx, card_id, src, to, stamp, reset_attempts=rerun)
            self._transition(cx, card_id, src, to, Action.MOVE, actor, stamp)
            self._card_finished(cx, card_id, to, stamp)
            if to is Status.WAITING and self._promote(cx, card_id, stamp, actor):
                return Status.READY
        return to

    @retried
    def cancel(
        self, card_id: int, now: datetime, actor: str = "cli", reason: str | None = None
    ) -> None:
        """Cancel a card from any status but done/cancelled; its live run (if any) ends too."""
        with self._db.write() as cx:
            stamp = iso(self._now(cx, now))
            src = self._lock(cx, card_id)
            if src not in _CANCELLABLE:
                raise IllegalTransition(f"card {card_id} is already {src}; nothing to cancel")
            run_id = cx.execute(q.CURRENT_RUN, {"id": card_id}).fetchone()[0]
            if run_id is not None:
                self._end_run(cx, run_id, "cancelled", stamp, error=reason or "cancelled")
            params = {"id": card_id, "from": src.value, "now": stamp}
            self._apply(cx, q.CANCEL_CARD, params, f"cancelling card {card_id}")
            extra = {"reason": reason} if reason else None
            self._transition(cx, card_id, src, Status.CANCELLED, Action.CANCEL, actor, stamp, extra)
            self._card_finished(cx, card_id, Status.CANCELLED, stamp)

    @retried
    def retry(self, card_id: int, now: datetime, actor: str = "cli") -> Status:
        """Re-open a failed or cancelled card with a fresh set of attempts."""
        with self._db.write() as cx:
            stamp = iso(self._now(cx, now))
            src = self._lock(cx, card_id)
            if src not in _RETRYABLE:
                raise IllegalTransition(
                    f"card {card_id} is {src}; only failed or cancelled cards can be retried"
                )
            self._share_dependencies(cx, card_id)
            to = Status.WAITING if self._blockers(cx, card_id) else Status.READY
            self._set_status(cx, card_id, src, to, stamp, reset_attempts=True)
            self._transition(cx, card_id, src, to, Action.RETRY, actor, stamp)
        return to

    @retried
    def comment(
        self,
        card_id: int,
        text: str,
        now: datetime,
        actor: str = "cli",
        *,
        fence: int | None = None,
    ) -> None:
        """Attach a note to the card's history (workers see comments in their prompt)."""
        if not text.strip():
            raise InvalidInput("the comment is empty; write some text to add")
        check_text("the comment", text)
        with self._db.write() as cx:
            stamp = iso(self._now(cx, now))
            self._fence(cx, fence)
            self._status(cx, card_id)
            self._event(cx, card_id, "comment", actor, stamp, {"text": text})

    @retried
    def edit(
        self, card_id: int, changes: dict[str, Any], now: datetime, actor: str = "cli"
    ) -> list[str]:
        """Change what a card says (title, body, profile, priority, labels, model) while
        no worker holds it; returns the fields that changed (event `edited`)."""
        with self._db.write() as cx:
            stamp = iso(self._now(cx, now))
            src = self._lock(cx, card_id)
            if src in _HELD:
                raise IllegalTransition(
                    f"card {card_id} is {src}: a worker holds it; edit it once it stops",
                    cli_hint=f"or `hermes board cancel {card_id}` first",
                )
            card = Card.from_row(cx.execute(q.CARD_BY_ID, {"id": card_id}).fetchone())
            now_values = {name: getattr(card, name) for name in EDITABLE}
            wanted = {**now_values, **changes}
            changed = [name for name in EDITABLE if wanted[name] != now_values[name]]
            if not changed:
                return []
            for name in ("title", "body"):
                (check_line if name == "title" else check_text)(f"the {name}", wanted[name])
            params = {**wanted, "labels": to_json_text(list(dict.fromkeys(wanted["labels"])))}
            params.update(id=card_id, now=stamp, **{"from": src.value})
            self._apply(cx, q.EDIT_CARD, params, f"editing card {card_id}")
            data = {"fields": {name: wanted[name] for name in changed}}
            self._event(cx, card_id, "edited", actor, stamp, data)
        return changed

    @retried
    def archive(
        self, card_id: int, now: datetime, *, undo: bool = False, actor: str = "cli"
    ) -> bool:
        """Hide a finished card from the board's views (its history stays), or bring it
        back; False when it already was so."""
        with self._db.write() as cx:
            stamp = iso(self._now(cx, now))
            src = self._lock(cx, card_id)
            if src not in FINISHED:
                raise IllegalTransition(
                    f"card {card_id} is {src}; only finished cards (done, failed, cancelled) "
                    "can be archived"
                )
            was = cx.execute(q.CARD_ARCHIVED, {"id": card_id}).fetchone()[0]
            if (was is None) == undo:
                return False
            params = {
                "archived_at": None if undo else stamp,
                "now": stamp,
                "id": card_id,
                "from": src.value,
            }
            self._apply(cx, q.ARCHIVE_CARD, params, f"archiving card {card_id}")
            self._event(cx, card_id, "unarchived" if undo else "archived", actor, stamp)
        return True

    def _set_status(
        self,
        cx: Connection,
        card_id: int,
        src: Status,
        to: Status,
        now: str,
        *,
        reset_attempts: bool = False,
    ) -> None:
        sql = q.REOPEN_CARD if reset_attempts else q.MOVE_CARD
        params = {"id": card_id, "from": src.value, "to": to.value, "now": now}
        self._apply(cx, sql, params, f"moving card {card_id} to {to}")


def _illegal_move(card_id: int, src: Status, to: Status) -> str:
    targets = move_targets(src)
    if targets:
        hint = f"from {src} a card can be moved to {', '.join(targets)}"
    elif src in (Status.FAILED, Status.CANCELLED):
        hint = f"use `hermes board retry {card_id}` to run it again"
    elif src is Status.DONE:
        hint = "a done card is final"
    else:
        hint = f"a {src} card moves on its own; `hermes board cancel {card_id}` stops it"
    return f"cannot move card {card_id} from {src} to {to}; {hint}"
