"""Retry delays grow exponentially from the base and stop at the cap."""

from __future__ import annotations

from board import Backoff


def test_default_backoff_doubles_from_ten_seconds_up_to_five_minutes() -> None:
    delays = [Backoff().delay(n) for n in range(1, 9)]
    assert delays == [10, 20, 40, 80, 160, 300, 300, 300]


def test_backoff_is_configurable() -> None:
    assert [Backoff(base=1, cap=5).delay(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
