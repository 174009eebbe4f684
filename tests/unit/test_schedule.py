"""Cron schedules: what is accepted, and what is due when, with literal times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from dispatcher.schedule import cron_weekdays, due, first_fire, zone
from hermes.errors import InvalidInput

BERLIN = zone("Europe/Berlin")
FRI = datetime(2026, 3, 27, 10, 0, tzinfo=BERLIN)  # a Friday, two days before DST starts


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("*/15 * * * *", datetime(2026, 3, 27, 10, 15, tzinfo=BERLIN)),
        ("0 9 * * 1-5", datetime(2026, 3, 30, 9, 0, tzinfo=BERLIN)),
        ("every 30 seconds", FRI + timedelta(seconds=30)),
        ("every 10 minutes", FRI + timedelta(minutes=10)),
        ("every 2 hours", FRI + timedelta(hours=2)),
        # the longest interval, a leap year of elapsed time (it crosses a DST change)
        ("every 8784 hours", (FRI.astimezone(UTC) + timedelta(hours=8784)).astimezone(BERLIN)),
        ("every day at 9am", datetime(2026, 3, 28, 9, 0, tzinfo=BERLIN)),
        ("daily at 21:15", datetime(2026, 3, 27, 21, 15, tzinfo=BERLIN)),
        ("weekdays at 7:30", datetime(2026, 3, 30, 7, 30, tzinfo=BERLIN)),
        ("weekends at 10", datetime(2026, 3, 28, 10, 0, tzinfo=BERLIN)),
        ("every monday at 8", datetime(2026, 3, 30, 8, 0, tzinfo=BERLIN)),
        ("Every  Friday at 12pm", datetime(2026, 3, 27, 12, 0, tzinfo=BERLIN)),
        ("every sunday at 12am", datetime(2026, 3, 29, 0, 0, tzinfo=BERLIN)),
    ],
)
def test_accepted_schedules(schedule: str, expected: datetime) -> None:
    assert first_fire(schedule, BERLIN, FRI) == expected


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("sometimes", "is not understood; use a cron expression"),
        ("every 0 minutes", "the interval must be at least 1 minute"),
        ("every 31622401 seconds", "the interval must be at most a year"),
        ("every 60000000 hours", "at most a year"),
        ("61 * * * *", "is not a valid cron expression"),
        ("every day at 25:00", "25:00 is not a time of day"),
        ("every day at 13pm", "13pm is not a time"),
        ("every fortnight", "is not understood"),
        ("0 9 * * fri-mon", "runs backwards"),
        ("0 9 * * 8", "is not a day of the week"),
    ],
)
def test_refused_schedules_say_what_is_accepted(schedule: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        first_fire(schedule, BERLIN, FRI)


@pytest.mark.parametrize(
    ("field", "days"),
    [
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0", "sun"),
        ("7", "sun"),
        ("*/2", "sun,tue,thu,sat"),
        ("1,3,5", "mon,wed,fri"),
        ("sat,sun", "sat,sun"),
        ("*", "*"),
    ],
)
def test_cron_weekdays_count_from_sunday_as_cron_does(field: str, days: str) -> None:
    assert cron_weekdays(field) == days


def test_unknown_time_zones_are_refused() -> None:
    with pytest.raises(InvalidInput, match="--tz 'Mars/Base' is not a time zone"):
        zone("Mars/Base")


def test_nothing_is_due_before_the_next_fire() -> None:
    fire = datetime(2026, 3, 27, 10, 15, tzinfo=BERLIN)
    assert due("*/15 * * * *", BERLIN, FRI, fire, fire - timedelta(seconds=1)) is None


def test_a_fire_on_time() -> None:
    fire = datetime(2026, 3, 27, 10, 15, tzinfo=BERLIN)
    found = due("*/15 * * * *", BERLIN, FRI, fire, fire + timedelta(seconds=3))
    assert found is not None
    assert (found.fire_at, found.missed, found.next_fire) == (fire, 0, fire + timedelta(minutes=15))


def test_missed_fires_fold_into_the_latest() -> None:
    """A dispatcher down for an hour: one catch-up fire, not four."""
    fire = datetime(2026, 3, 27, 10, 15, tzinfo=BERLIN)
    found = due("*/15 * * * *", BERLIN, FRI, fire, datetime(2026, 3, 27, 11, 20, tzinfo=BERLIN))
    assert found is not None
    assert found.fire_at == datetime(2026, 3, 27, 11, 15, tzinfo=BERLIN)
    assert found.missed == 4
    assert found.next_fire == datetime(2026, 3, 27, 11, 30, tzinfo=BERLIN)


def test_intervals_count_from_the_anchor() -> None:
    anchor = datetime(2026, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC)
    found = due(
        "every 2 seconds",
        zone("UTC"),
        anchor,
        anchor + timedelta(seconds=2),
        anchor + timedelta(seconds=7, microseconds=1),
    )
    assert found is not None
    assert (found.fire_at, found.missed) == (anchor + timedelta(seconds=6), 2)
    assert found.next_fire == anchor + timedelta(seconds=8)


def daily_fires(schedule: str, start: datetime, days: int) -> list[datetime]:
    fires, now = [], start
    upcoming = first_fire(schedule, BERLIN, start)
    while now < start + timedelta(days=days):
        now += timedelta(minutes=30)
        found = due(schedule, BERLIN, start, upcoming, now)
        if found is not None:
            fires.append(found.fire_at)
            assert found.next_fire is not None
            upcoming = found.next_fire
    return fires


def test_spring_forward_fires_once_that_day() -> None:
    """02:30 does not exist on 2026-03-29 in Berlin: the job runs once, an hour later."""
    fires = daily_fires("every day at 2:30am", datetime(2026, 3, 27, 12, tzinfo=BERLIN), 4)
    assert [f.astimezone(BERLIN).date().day for f in fires] == [28, 29, 30, 31]
    assert fires[1].astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert fires[2].astimezone(BERLIN).hour == 2


def test_fall_back_does_not_fire_twice() -> None:
    """02:30 happens twice on 2026-10-25 in Berlin: the job still runs once that night."""
    fires = daily_fires("every day at 2:30am", datetime(2026, 10, 23, 12, tzinfo=BERLIN), 4)
    assert [f.astimezone(BERLIN).date().day for f in fires] == [24, 25, 26, 27]
    gaps = {round((b - a).total_seconds() / 3600) for a, b in pairwise(fires)}
    assert gaps <= {24, 25}


def test_an_enormous_gap_is_skipped_without_counting_every_fire() -> None:
    anchor = datetime(2020, 1, 1, tzinfo=UTC)
    found = due(
        "every 1 seconds",
        zone("UTC"),
        anchor,
        anchor + timedelta(seconds=1),
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert found is not None and found.next_fire is not None
    assert found.next_fire > datetime(2026, 1, 1, tzinfo=UTC) - timedelta(seconds=1)
