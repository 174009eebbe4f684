"""Dependency-graph questions, as plain functions over a lookup the store provides.

Kept apart from SQL so the algorithm is easy to read and test: the store passes a
function that returns the direct dependencies of a batch of cards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

DepsOf = Callable[[Iterable[int]], dict[int, list[int]]]


def dependency_path(start: int, goal: int, deps_of: DepsOf) -> list[int] | None:
    """The shortest chain `start -> ... -> goal` along "depends on" edges, or None.

    Breadth-first, one lookup per level, so a deep board costs one query per level
    rather than one per card.
    """
    if start == goal:
        return [start]
    parent: dict[int, int] = {}
    frontier = [start]
    seen = {start}
    while frontier:
        edges = deps_of(frontier)
        next_frontier: list[int] = []
        for card in frontier:
            for dep in edges.get(card, []):
                if dep in seen:
                    continue
                seen.add(dep)
                parent[dep] = card
                if dep == goal:
                    return _walk_back(parent, start, goal)
                next_frontier.append(dep)
        frontier = next_frontier
    return None


def _walk_back(parent: dict[int, int], start: int, goal: int) -> list[int]:
    path = [goal]
    while path[-1] != start:
        path.append(parent[path[-1]])
    return path[::-1]


def cycle_message(card: int, on: int, path: list[int]) -> str:
    """Explain why `card` cannot depend on `on`: `path` already leads from `on` to `card`."""
    cycle = " -> ".join(str(n) for n in [card, *path])
    return (
        f"card {card} cannot depend on card {on}: card {on} already depends on card {card}, "
        f"so this would make the cycle {cycle}; remove one of those dependencies first"
    )
