"""Cron fires become cards: the dispatcher runs `fire_due` on every wake.

Each due job creates one card (source `cron:<job id>`, labels `cron`, and `late` when it
fires well after its time), unless its previous card is still unfinished and the job
skips overlaps; either way the job's next fire time moves on, and that move is what
claims the fire (see `board.cron_ops`). A job whose card cannot be made (its profile or
repository is gone) records why and moves on rather than retrying on every wake.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from board import FINISHED, NewCard, Status, Store
from board.clock import iso, parse_iso
from board.cron_ops import CronJob
from dispatcher.schedule import due, zone
from hermes.errors import HermesError
from hermes.intake import CardRequest, resolve

LATE_AFTER = timedelta(seconds=60)


def job_card(job: CronJob, key: str, now: datetime, *, late: bool = False) -> NewCard:
    """The card a fire of `job` creates."""
    request = CardRequest(
        title=job.title,
        body=job.body,
        profile=job.profile,
        repo=Path(job.repo) if job.repo else None,
        no_repo=job.repo is None,
        base=job.base,
        labels=["cron", "late"] if late else ["cron"],
        key=key,
        source=f"cron:{job.id}",
    )
    return resolve(request, now)


def fire_due(store: Store, now: datetime) -> list[str]:
    """Fire every job that is due at `now`; returns one report line per fire."""
    reports = []
    for job in store.due_jobs(now):
        try:
            report = _fire(store, job, now)
        except HermesError as exc:  # one job that cannot be scheduled stops no other
            report = _pause_broken(store, job, now, str(exc))
        if report:
            reports.append(report)
    return reports


def _fire(store: Store, job: CronJob, now: datetime) -> str | None:
    assert job.next_fire_at is not None
    when = due(
        job.schedule, zone(job.tz), parse_iso(job.created_at), parse_iso(job.next_fire_at), now
    )
    if when is None:
        return None
    late = when.missed > 0 or now - when.fire_at > LATE_AFTER
    data: dict[str, Any] = {"fire_at": iso(when.fire_at), "missed": when.missed, "late": late}
    card: NewCard | None = None
    busy = _unfinished(store, job.last_card_id) if job.overlap == "skip" else None
    if busy is not None:
        data["reason"] = f"card {job.last_card_id} of the last fire is still {busy}"
    else:
        try:
            card = job_card(job, f"cron:{job.id}:{iso(when.fire_at)}", now, late=late)
        except HermesError as exc:
            data["error"] = str(exc)
    card_id = store.fire_job(job.id, job.next_fire_at, when.next_fire, card, now, data)
    if card_id is not None:
        note = f" (late: {when.missed} earlier fire(s) folded in)" if late else ""
        return f"cron job {job.id} fired: card {card_id} {job.title!r}{note}"
    if card is None:
        return f"cron job {job.id} skipped a fire: {data.get('reason') or data.get('error')}"
    return None  # another dispatcher fired it


def _pause_broken(store: Store, job: CronJob, now: datetime, error: str) -> str:
    """Pause a job whose schedule can no longer be computed (its time zone vanished from
    the system, say), so it neither stops the dispatcher nor fails again on every wake."""
    reason = f"its schedule cannot be computed: {error}"
    store.set_paused(job.id, now, True, None, reason=reason)
    return (
        f"warning: cron job {job.id} paused, {reason}; "
        f"remove it with `hermes cron rm {job.id}` and add it again"
    )


def _unfinished(store: Store, card_id: int | None) -> Status | None:
    """The status of the job's last card if it is still unfinished."""
    if card_id is None:
        return None
    status = Status(store.card(card_id).status)
    return None if status in FINISHED else status
