"""Cron schedules: what a user may write, and when a job is due.

Accepted: a five-field cron expression (`*/15 * * * *`), `every N seconds|minutes|hours`,
and phrases: `every day at 9am`, `weekdays at 7:30`, `weekends at 10`,
`every monday at 8`. APScheduler's triggers do the calendar arithmetic (months, weekdays,
daylight-saving changes) in the job's time zone; this module only parses and decides what
is due, with `now` passed in so tests can use literal times.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from board.cards import YEAR_SECONDS
from hermes.errors import InvalidInput

EXAMPLES = (
    "a cron expression ('*/15 * * * *', '0 9 * * 1-5'), 'every 30 seconds', "
    "'every 10 minutes', 'every 2 hours', 'every day at 9am', 'weekdays at 7:30', "
    "'every monday at 8'"
)
DAYS = {
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}
_INTERVAL = re.compile(r"every\s+(\d+)\s+(second|minute|hour)s?")
_PHRASE = re.compile(
    r"(?P<days>every\s+day|daily|weekdays|every\s+weekday|weekends|every\s+(?P<day>"
    + "|".join(DAYS)
    + r"))\s+at\s+(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<half>am|pm)?"
)
MAX_STEPS = 100_000
#: The longest `every N units`: a year. Rarer schedules are cron expressions, and a
#: longer interval could carry a fire past the calendar's end (year 9999).
MAX_INTERVAL = YEAR_SECONDS
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600}


def zone(name: str) -> ZoneInfo:
    """The time zone called `name`, or an error that says what is expected."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"--tz {name!r} is not a time zone; use an IANA name such as Europe/Berlin or UTC"
        ) from None


def local_zone_name() -> str:
    """This machine's time zone (the default for new jobs)."""
    import tzlocal

    return str(tzlocal.get_localzone_name() or "UTC")


def trigger(schedule: str, tz: ZoneInfo, anchor: datetime) -> Any:
    """The APScheduler trigger for `schedule`; intervals count from `anchor`."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    text = " ".join(schedule.lower().split())
    if match := _INTERVAL.fullmatch(text):
        count, unit = int(match[1]), match[2]
        if count < 1:
            raise InvalidInput(f"schedule {schedule!r}: the interval must be at least 1 {unit}")
        if count * _UNIT_SECONDS[unit] > MAX_INTERVAL:
            raise InvalidInput(
                f"schedule {schedule!r}: the interval must be at most a year "
                f"({MAX_INTERVAL // _UNIT_SECONDS[unit]:,} {unit}s); for rarer schedules use "
                "a cron expression such as '0 9 1 1 *'"
            )
        return IntervalTrigger(**{f"{unit}s": count}, start_date=anchor, timezone=tz)
    if match := _PHRASE.fullmatch(text):
        return CronTrigger(**_phrase_fields(match, schedule), timezone=tz)
    if len(text.split()) == 5:
        minute, hour, day, month, weekday = text.split()
        try:
            return CronTrigger(
                minute=minute,
                hour=hour,
                day=day,
                month=month,
                day_of_week=cron_weekdays(weekday),
                timezone=tz,
            )
        except ValueError as exc:
            raise InvalidInput(
                f"schedule {schedule!r} is not a valid cron expression ({exc})"
            ) from None
    raise InvalidInput(f"schedule {schedule!r} is not understood; use {EXAMPLES}")


WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def cron_weekdays(field: str) -> str:
    """A cron day-of-week field in cron's numbering (0 or 7 is Sunday) as day names.

    APScheduler 3 numbers weekdays from Monday = 0, so `1-5` there would mean Tuesday to
    Saturday; names mean the same to both.
    """
    if field == "*":
        return field
    days: list[int] = []
    for part in field.split(","):
        span, _, step = part.partition("/")
        if span == "*":
            first, last = 0, 6
        else:
            low, _, high = span.partition("-")
            first, last = _weekday(low), _weekday(high or low)
            if span.count("-") == 0 and step:
                last = 6
            if last < first:
                raise ValueError(f"the weekday range {span!r} runs backwards")
        days += [d % 7 for d in range(first, last + 1, int(step or 1))]
    return ",".join(WEEKDAYS[d] for d in dict.fromkeys(days))


def _weekday(token: str) -> int:
    if token.isdigit() and int(token) <= 7:
        return int(token)
    if token[:3] in WEEKDAYS:
        return WEEKDAYS.index(token[:3])
    raise ValueError(f"{token!r} is not a day of the week (0-7 or mon..sun)")


def _phrase_fields(match: re.Match[str], schedule: str) -> dict[str, Any]:
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    if match["half"]:
        if not 1 <= hour <= 12:
            raise InvalidInput(f"schedule {schedule!r}: {hour}{match['half']} is not a time")
        hour = hour % 12 + (12 if match["half"] == "pm" else 0)
    if hour > 23 or minute > 59:
        raise InvalidInput(f"schedule {schedule!r}: {hour}:{minute:02d} is not a time of day")
    days = match["days"]
    fields: dict[str, Any] = {"hour": hour, "minute": minute, "second": 0}
    if match["day"]:
        fields["day_of_week"] = DAYS[match["day"]]
    elif "weekday" in days:
        fields["day_of_week"] = "mon-fri"
    elif days == "weekends":
        fields["day_of_week"] = "sat,sun"
    return fields


def following_fire(rule: Any, fire: datetime) -> datetime | None:
    """The fire after `fire`. A calendar schedule fires once per wall-clock time: when
    clocks go back, 02:30 happens twice, and the job still runs once that night."""
    from apscheduler.triggers.cron import CronTrigger

    following = rule.get_next_fire_time(fire, fire)
    if isinstance(rule, CronTrigger) and following is not None:
        if _wall(following, rule.timezone) == _wall(fire, rule.timezone):
            following = rule.get_next_fire_time(following, following)
    return following  # type: ignore[no-any-return]


def _wall(moment: datetime, tz: Any) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


@contextmanager
def _calendar(schedule: str) -> Iterator[None]:
    """Calendar arithmetic past year 9999 (or before year 1) as a clear refusal."""
    try:
        yield
    except (OverflowError, ValueError):
        raise InvalidInput(
            f"schedule {schedule!r} fires too far apart to compute; use a shorter interval"
        ) from None


def first_fire(schedule: str, tz: ZoneInfo, anchor: datetime) -> datetime:
    """The first fire time after `anchor` (a job's creation, or its resumption)."""
    rule = trigger(schedule, tz, anchor)
    with _calendar(schedule):
        fire = rule.get_next_fire_time(None, anchor + timedelta(microseconds=1))
    if fire is None:
        raise InvalidInput(f"schedule {schedule!r} never fires")
    return fire  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class Due:
    """A fire that is due now: its time, how many earlier ones it swallows, the next one."""

    fire_at: datetime
    missed: int
    next_fire: datetime | None


def due(
    schedule: str, tz: ZoneInfo, anchor: datetime, next_fire: datetime, now: datetime
) -> Due | None:
    """What is due at `now` for a job whose next fire was `next_fire`, or None.

    Fires missed while no dispatcher ran collapse into one: the latest that is due.
    """
    if next_fire > now:
        return None
    rule = trigger(schedule, tz, anchor)
    fire, missed = next_fire, 0
    with _calendar(schedule):
        for _ in range(MAX_STEPS):
            following = following_fire(rule, fire)
            if following is None or following > now:
                return Due(fire, missed, following)
            fire, missed = following, missed + 1
        following = rule.get_next_fire_time(None, now)  # an enormous gap: skip ahead
    return Due(fire, missed, following)
