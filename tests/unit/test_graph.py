"""Cycle detection on plain dictionaries: the algorithm without the database."""

from __future__ import annotations

from collections.abc import Iterable

from board.graph import cycle_message, dependency_path


def lookup(edges: dict[int, list[int]]):  # type: ignore[no-untyped-def]
    calls: list[list[int]] = []

    def deps_of(ids: Iterable[int]) -> dict[int, list[int]]:
        batch = list(ids)
        calls.append(batch)
        return {i: edges[i] for i in batch if i in edges}

    return deps_of, calls


def test_finds_the_shortest_chain() -> None:
    deps_of, _ = lookup({1: [2, 5], 2: [3], 3: [4], 5: [4]})
    assert dependency_path(1, 4, deps_of) == [1, 5, 4]


def test_no_path_between_unrelated_cards() -> None:
    deps_of, _ = lookup({1: [2], 3: [4]})
    assert dependency_path(1, 4, deps_of) is None


def test_one_lookup_per_level_not_per_card() -> None:
    edges = {0: list(range(1, 101))} | {i: [1000] for i in range(1, 101)}
    deps_of, calls = lookup(edges)
    assert dependency_path(0, 999, deps_of) is None
    assert len(calls) == 3  # {0}, {1..100}, {1000}


def test_handles_diamonds_without_revisiting() -> None:
    deps_of, calls = lookup({1: [2, 3], 2: [4], 3: [4], 4: [5]})
    assert dependency_path(1, 5, deps_of) == [1, 2, 4, 5]
    assert sum(batch.count(4) for batch in calls) == 1


def test_message_names_the_cycle() -> None:
    message = cycle_message(3, 5, [5, 4, 3])
    assert "card 3 cannot depend on card 5" in message
    assert "3 -> 5 -> 4 -> 3" in message
