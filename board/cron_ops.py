"""Cron jobs on the board: schedules that create a card on every fire.

A fire is claimed by a conditional update of the job's next fire time (from exactly the
value the firing dispatcher read) in the same transaction that creates the card, whose
key is unique per job and fire time: however many dispatchers run, and whatever
restarts, each fire time creates one card. The calendar arithmetic lives in the
dispatcher (`dispatcher.schedule`); the store only records.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from msgspec import Struct

from board import queries as q
from board.base import retried, to_json_text
from board.card_ops import CardCommands
from board.cards import NewCard
from board.clock import iso
from board.db import Connection
from board.rows import one
from hermes.errors import NotFound


class CronJob(Struct):
    """A schedule and the card it creates on every fire."""

    id: int
    schedule: str
    tz: str
    title: str
    body: str
    profile: str
    repo: str | None
    base: str | None
    deliver: str | None
    overlap: str
    paused: bool
    created_at: str
    next_fire_at: str | None
    last_fire_at: str | None
    last_card_id: int | None

    def to_json(self) -> dict[str, Any]:
        """Every field, for `cron list --json`."""
        return {name: getattr(self, name) for name in self.__struct_fields__}


class NewJob(Struct):
    """A job as `cron add` describes it (profile, repository and base already resolved)."""

    schedule: str
    tz: str
    title: str
    profile: str
    body: str = ""
    repo: str | None = None
    base: str | None = None
    deliver: str | None = None
    overlap: str = "skip"


class CronCommands(CardCommands):
    """Add, list, pause and fire cron jobs."""

    @retried
    def add_job(self, job: NewJob, now: datetime, next_fire: datetime) -> int:
        """Store a job whose first fire is `next_fire`; returns its id."""
        params = {
            "schedule": job.schedule,
            "tz": job.tz,
            "title": job.title,
            "body": job.body,
            "profile": job.profile,
            "repo": job.repo,
            "base": job.base,
            "deliver": job.deliver,
            "overlap": job.overlap,
            "next_fire_at": iso(next_fire),
        }
        with self._db.write() as cx:
            stamp = params["now"] = iso(self._now(cx, now))
            job_id = int(cx.execute(q.INSERT_JOB, params).fetchone()[0])
            self._job_event(cx, job_id, "created", stamp, {"schedule": job.schedule, "tz": job.tz})
        return job_id

    def job(self, job_id: int) -> CronJob:
        """One job, or NotFound naming the id."""
        return _job(_require_job(self._db.cx, job_id))

    def jobs(self) -> list[CronJob]:
        """Every job, oldest first."""
        return [_job(row) for row in self._db.cx.execute(q.ALL_JOBS)]

    def due_jobs(self, now: datetime) -> list[CronJob]:
        """The unpaused jobs whose next fire is at or before `now`, oldest first."""
        return [_job(row) for row in self._db.cx.execute(q.DUE_JOBS, {"now": iso(now)})]

    @retried
    def remove_job(self, job_id: int) -> None:
        """Delete a job and its history (the cards it created stay)."""
        with self._db.write() as cx:
            _require_job(cx, job_id)
            cx.execute(q.DELETE_JOB_EVENTS, {"id": job_id})
            self._apply(cx, q.DELETE_JOB, {"id": job_id}, f"removing cron job {job_id}")

    @retried
    def set_paused(
        self,
        job_id: int,
        now: datetime,
        paused: bool,
        next_fire: datetime | None,
        reason: str | None = None,
    ) -> None:
        """Pause a job (it stops firing) or resume it from `next_fire`; `reason` says why
        it was paused when a person did not do it."""
        with self._db.write() as cx:
            stamp = iso(self._now(cx, now))
            _require_job(cx, job_id)
            params = {
                "id": job_id,
                "paused": paused,
                "next_fire_at": iso(next_fire) if next_fire else None,
            }
            self._apply(cx, q.PAUSE_JOB, params, f"pausing cron job {job_id}")
            data = {"reason": reason} if reason else {}
            self._job_event(cx, job_id, "paused" if paused else "resumed", stamp, data)

    @retried
    def fire_job(
        self,
        job_id: int,
        expected: str,
        next_fire: datetime | None,
        card: NewCard | None,
        now: datetime,
        data: dict[str, Any],
    ) -> int | None:
        """Claim the fire due at `expected` and create its card (None: skip this fire).

        Returns the card id, or None if the fire was skipped or another dispatcher (or a
        pause) got there first.
        """
        params = {
            "id": job_id,
            "expected": expected,
            "fire_at": data["fire_at"],
            "next_fire_at": iso(next_fire) if next_fire else None,
        }
        with self._db.write() as cx:
            stamp = iso(self._now(cx, now))
            if cx.execute(q.ADVANCE_JOB, params).rowcount != 1:
                return None  # another dispatcher fired it (or a pause came first): said plainly
            if card is None:
                self._job_event(cx, job_id, "skipped", stamp, data)
                return None
            card_id, _ = self._create(cx, card, stamp, card.source)
            last = {"id": job_id, "card_id": card_id}
            self._apply(cx, q.SET_LAST_CARD, last, f"recording cron job {job_id}'s card")
            self._deliver(cx, job_id, card_id, stamp)
            self._job_event(cx, job_id, "fired", stamp, {**data, "card": card_id})
        return card_id

    @retried
    def run_job_now(self, job_id: int, card: NewCard, now: datetime) -> int:
        """Create the job's card now, by hand; the schedule is unchanged."""
        with self._db.write() as cx:
            stamp = iso(self._now(cx, now))
            card_id, _ = self._create(cx, card, stamp, card.source)
            last = {"id": job_id, "card_id": card_id}
            self._apply(cx, q.SET_LAST_CARD, last, f"recording cron job {job_id}'s card")
            self._deliver(cx, job_id, card_id, stamp)
            self._job_event(cx, job_id, "run", stamp, {"card": card_id})
        return card_id

    def _deliver(self, cx: Connection, job_id: int, card_id: int, stamp: str) -> None:
        """A job with `--deliver PLATFORM:CHAT` subscribes that chat to each fire's card
        (its result), in the transaction that creates the card: no fire goes untold."""
        deliver = cx.execute(q.JOB_DELIVER, {"id": job_id}).fetchone()[0]
        if not deliver:
            return
        platform, chat = deliver.split(":", 1)
        cursor = cx.execute(q.CARD_FIRST_EVENT, {"card_id": card_id}).fetchone()[0]
        params = {"platform": platform, "chat": chat, "card_id": card_id, "mode": "result"}
        cx.execute(q.SUBSCRIBE, {**params, "cursor": cursor, "now": stamp})

    def job_events(self, job_id: int) -> list[dict[str, Any]]:
        """A job's history, oldest first."""
        rows = self._db.cx.execute(q.JOB_EVENTS, {"id": job_id}).fetchall()
        return [{"at": at, "kind": kind, "data": json.loads(data)} for at, kind, data in rows]

    def _job_event(self, cx: Any, job_id: int, kind: str, stamp: str, data: dict[str, Any]) -> None:
        cx.execute(
            q.INSERT_JOB_EVENT,
            {"job_id": job_id, "at": stamp, "kind": kind, "data": to_json_text(data)},
        )


def _require_job(cx: Any, job_id: int) -> tuple[Any, ...]:
    """The job's row, or NotFound naming the id."""
    row: tuple[Any, ...] | None = cx.execute(q.JOB_BY_ID, {"id": job_id}).fetchone()
    if row is None:
        raise NotFound(f"cron job {job_id} does not exist", cli_hint="see `hermes cron list`")
    return row


def _job(row: Any) -> CronJob:
    """A job from its row, by column name (SQLite keeps `paused` as 0 or 1)."""
    job = one(CronJob, row)
    job.paused = bool(job.paused)
    return job
