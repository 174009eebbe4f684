"""A random but reproducible DAG of cards: chains, diamonds, fan-outs and loose cards.

Cards are numbered from 0 in creation order and depend only on earlier cards, so the
graph is acyclic by construction. A few cross links tie the shapes together.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Node:
    """One card to create: what it waits for, how long its command sleeps, its priority."""

    deps: list[int] = field(default_factory=list)
    seconds: float = 0.1
    priority: int = 0


def build_dag(rng: random.Random, size: int) -> list[Node]:
    """`size` nodes in a mix of shapes; a long tail of slow cards gives the monkey targets."""
    nodes: list[Node] = []

    def add(deps: list[int]) -> int:
        slow = rng.random() < 0.1
        seconds = rng.uniform(1.0, 3.0) if slow else rng.uniform(0.02, 0.3)
        if nodes and rng.random() < 0.05:  # a cross link to any earlier card
            deps = sorted({*deps, rng.randrange(len(nodes))})
        nodes.append(Node(deps, round(seconds, 2), rng.randint(-2, 2)))
        return len(nodes) - 1

    while len(nodes) < size:
        room = size - len(nodes)
        shape = rng.choice(("chain", "diamond", "fan", "loose"))
        if shape == "chain":
            last = add([])
            for _ in range(min(room, rng.randint(3, 8)) - 1):
                last = add([last])
        elif shape == "diamond" and room >= 4:
            top = add([])
            sides = [add([top]) for _ in range(rng.randint(2, min(4, room - 2)))]
            add(sides)
        elif shape == "fan" and room >= 4:
            root = add([])
            leaves = [add([root]) for _ in range(rng.randint(2, min(12, room - 2)))]
            if rng.random() < 0.5:
                add(leaves)  # and in again
        else:
            add([])
    return nodes


def closure(deps: dict[int, list[int]], card: int) -> set[int]:
    """Every card `card` waits for, directly or not."""
    seen: set[int] = set()
    todo = list(deps[card])
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(deps[node])
    return seen
