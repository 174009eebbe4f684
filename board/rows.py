"""Rows to the board's records (msgspec structs), by column name.

A statement's columns are matched to a record's fields by name, once per column list
(the plan is cached), so adding a column to a query or reordering one never shifts a
value into the wrong field, and mapping costs nothing per row beyond building the object.
Rows may be name-addressable (`sqlite3.Row`, `board.postgres.PgRow`: `one`) or plain
tuples read with the cursor's column names (`rows_of`, cheaper for bulk reads).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from msgspec import Struct

T = TypeVar("T")
Convert = Callable[[list[Any]], None]


class Plan(Struct, frozen=True):
    """How to build a dataclass from rows with given columns: the position of each
    field's column, in field order (fields with defaults may be left out at the end),
    and whether those are simply the first columns in order."""

    order: tuple[int, ...]
    prefix: bool


_PLANS: dict[tuple[type[Any], tuple[str, ...]], Plan] = {}


def plan(cls: type[Any], names: tuple[str, ...]) -> Plan:
    """The plan for building `cls` from rows whose columns are `names` (made once per
    class and column list); a field with no column and no default is a KeyError."""
    found = _PLANS.get((cls, names))
    if found is None:
        found = _PLANS[(cls, names)] = _make_plan(cls, names)
    return found


def _make_plan(cls: type[Any], names: tuple[str, ...]) -> Plan:
    where = {name: i for i, name in reversed(list(enumerate(names)))}  # the first wins
    order: list[int] = []
    fields: tuple[str, ...] = cls.__struct_fields__
    required = len(fields) - len(cls.__struct_defaults__)  # defaults are at the end
    for place, name in enumerate(fields):
        if name not in where:
            if place < required:
                raise KeyError(f"{cls.__name__}.{name} has no column among {names}")
            break  # it and the fields after it take their defaults
        order.append(where[name])
    return Plan(tuple(order), order == list(range(len(order))))


def columns(cursor: Any) -> tuple[str, ...]:
    """The column names of a cursor's result."""
    return tuple(column[0] for column in cursor.description)


def build(cls: type[T], names: tuple[str, ...], values: Sequence[Any]) -> T:
    """One `cls` from a row whose columns are `names`."""
    found = plan(cls, names)
    if found.prefix:
        return cls(*values[: len(found.order)])
    return cls(*[values[i] for i in found.order])


def one(cls: type[T], row: Any, convert: Convert | None = None) -> T:
    """One `cls` from a name-addressable row (it has `keys()`); `convert` may change the
    values (in field order) before the object is built."""
    if convert is None:
        return build(cls, tuple(row.keys()), row)
    found = plan(cls, tuple(row.keys()))
    values = list(row[: len(found.order)]) if found.prefix else [row[i] for i in found.order]
    convert(values)
    return cls(*values)


def rows_of(cls: type[T], cursor: Any, convert: Convert | None = None) -> list[T]:
    """Every row of `cursor` as a `cls`, mapped once by the cursor's column names.
    `convert` may change the values (in field order) before each object is built."""
    found = plan(cls, columns(cursor))
    width, order = len(found.order), found.order
    made: list[T] = []
    for row in cursor:
        values = list(row[:width]) if found.prefix else [row[i] for i in order]
        if convert is not None:
            convert(values)
        made.append(cls(*values))
    return made
