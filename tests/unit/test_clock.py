"""Times as stored, and every way a user may write `--at`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from board.clock import age, iso, parse_iso, parse_when
from hermes.errors import InvalidInput

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def test_iso_is_fixed_width_utc_with_microseconds() -> None:
    assert iso(NOW) == "2026-03-01T12:00:00.000000Z"
    plus_one = datetime(2026, 3, 1, 13, 0, 0, 5, tzinfo=UTC).astimezone()
    assert iso(plus_one) == "2026-03-01T13:00:00.000005Z"
    assert parse_iso(iso(NOW)) == NOW


def test_stored_times_sort_as_text() -> None:
    moments = [NOW + timedelta(microseconds=n) for n in (1, 999_999, 10**6, 36 * 10**8)]
    assert sorted(iso(m) for m in moments) == [iso(m) for m in moments]


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("+30s", timedelta(seconds=30)),
        ("+10m", timedelta(minutes=10)),
        ("+2h", timedelta(hours=2)),
        ("+1d", timedelta(days=1)),
        ("+1h30m", timedelta(hours=1, minutes=30)),
        (" +5M ", timedelta(minutes=5)),
    ],
)
def test_delays(text: str, delta: timedelta) -> None:
    assert parse_when(text, NOW) == NOW + delta


def test_iso_times_with_and_without_zone() -> None:
    assert parse_when("2026-03-02T09:00:00Z", NOW) == datetime(2026, 3, 2, 9, tzinfo=UTC)
    assert parse_when("2026-03-02T09:00+02:00", NOW) == datetime(2026, 3, 2, 7, tzinfo=UTC)
    local = parse_when("2026-03-02T09:00", NOW)
    assert local.tzinfo is not None
    assert local == datetime(2026, 3, 2, 9).astimezone()


@pytest.mark.parametrize("text", ["tomorrow", "+", "+5x", "30s", "2026-13-01", ""])
def test_bad_times_name_the_value_and_the_formats(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_when(text, NOW)
    assert repr(text) in str(caught.value)
    assert "+30s" in str(caught.value)


def test_age_is_compact() -> None:
    assert age(iso(NOW - timedelta(seconds=42)), NOW) == "42s"
    assert age(iso(NOW - timedelta(minutes=5, seconds=3)), NOW) == "5m"
    assert age(iso(NOW - timedelta(hours=3)), NOW) == "3h"
    assert age(iso(NOW - timedelta(days=2, hours=5)), NOW) == "2d"
    assert age(iso(NOW + timedelta(seconds=5)), NOW) == "0s"
