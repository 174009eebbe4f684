"""Time as the board stores it, and the user's ways of naming a time.

Store functions take `now` as an argument (only the outermost loop or command reads the
clock), so tests can use literal timestamps. Stored times are fixed-width ISO 8601 UTC
strings with microseconds, which sort and compare correctly as text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hermes.errors import InvalidInput

_DELAY = re.compile(r"\+\s*((?:\d+\s*[smhd]\s*)+)", re.IGNORECASE)
_DELAY_PART = re.compile(r"(\d+)\s*([smhd])", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """`moment` as the board stores it: `2026-11-21T08:10:00.123456Z`."""
    # isoformat is several times faster than strftime, and this runs on every claim.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_iso(text: str) -> datetime:
    """A stored time back as an aware datetime."""
    return datetime.fromisoformat(text)


def parse_when(text: str, now: datetime) -> datetime:
    """A user's `--at` value: ISO 8601 (local time if no zone) or a delay like `+10m`.

    Delays combine units (`+1h30m`); `s`, `m`, `h` and `d` are accepted. The answer is in
    UTC; a time the board cannot store (beyond year 9999) is refused.
    """
    value = text.strip()
    delay = _DELAY.fullmatch(value)
    try:
        if delay:
            seconds = sum(
                int(n) * _UNIT_SECONDS[unit.lower()] for n, unit in _DELAY_PART.findall(delay[1])
            )
            return (now + timedelta(seconds=seconds)).astimezone(UTC)
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInput(
                f"{{field}} {text!r} is not a time; use ISO 8601 (2026-11-21T09:00, "
                "2026-11-21T09:00:00Z) or a delay such as +30s, +10m, +2h",
                field="at",
            ) from None
        if moment.tzinfo is None:
            moment = moment.astimezone()  # a naive time is the user's local time
        return moment.astimezone(UTC)  # a time that cannot be stored in UTC fails here
    except (OverflowError, ValueError):  # past year 9999, or before year 1, in UTC
        raise InvalidInput(
            f"{{field}} {text!r} is out of range; give a time between the years 1 and 9999",
            field="at",
        ) from None


def age(since: str, now: datetime) -> str:
    """How long ago `since` was, compactly (`42s`, `5m`, `3h`, `2d`), for tables."""
    return compact_seconds((now - parse_iso(since)).total_seconds())


def until(moment: str, now: datetime) -> str:
    """How long until `moment`, compactly, for tables."""
    return compact_seconds((parse_iso(moment) - now).total_seconds())


def compact_seconds(seconds: float) -> str:
    """A duration in its largest whole unit, rounded to the nearest (half up): 7,199.9 s
    is `2h` (a card added with `--at +2h` starts "in 2h", not "in 1h"), 89 s is `1m`."""
    seconds = max(0.0, seconds)
    for unit, size, next_size in (("s", 1, 60), ("m", 60, 3600), ("h", 3600, 86400)):
        rounded = int(seconds / size + 0.5)
        if rounded * size < next_size:
            return f"{rounded}{unit}"
    return f"{int(seconds / 86400 + 0.5)}d"
