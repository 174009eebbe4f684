"""`hermes board copy --to URL`: a whole board into an empty database of either engine,
ids kept, sequences moved on; a target that holds anything is refused."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from board import CardFilter, NewCard, Store, open_store
from board.copy import TABLES, copy_board
from board.cron_ops import NewJob
from tests.conftest import T0, Cli


def _target(kind: str, request: pytest.FixtureRequest, tmp_path: Path, name: str = "copy") -> str:
    """A new database of `kind` with nothing in it (no schema either, on PostgreSQL)."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / f'{name}.db'}"
    cluster = request.getfixturevalue("pg_cluster")
    url: str = cluster.new_empty()
    request.addfinalizer(lambda: cluster.drop(url))
    return url


def _fill(store: Store) -> None:
    """A board with something in every copied table."""
    first, _ = store.add_card(NewCard("first", "shell", 3, body="echo 1"), T0)
    store.add_card(NewCard("second", "shell", 3, after=[first]), T0)
    claim = store.claim(T0, 60, worker="w", host="h", pid=1)
    assert claim is not None
    assert store.complete(claim.run_id, T0 + timedelta(seconds=1), result="ok")
    store.comment(first, "naïve 漢字 'quoted'", T0)
    job = store.add_job(NewJob("every 2 seconds", "UTC", "t", "shell"), T0, T0)
    store.set_paused(job, T0, True, None, reason="held")
    store.subscribe("telegram", "42", first, T0)
    store.remember_message("telegram", "42", "m1", first, claim.run_id, "ack", T0)
    store.tell_stranger_once("telegram", "eve", T0)
    store.gateway_beat("telegram", T0, host="h", pid=1, connected=True)


def _rows(store: Store, table: str, key: str) -> list[tuple[Any, ...]]:
    cursor = store.db.cx.tuples(f"SELECT * FROM {table} ORDER BY {key}")
    names = [column[0] for column in cursor.description]
    # the same columns in the same order on both engines; booleans as 0 and 1
    return [
        tuple(int(v) if isinstance(v, bool) else v for _, v in sorted(zip(names, row, strict=True)))
        for row in cursor
    ]


@pytest.mark.parametrize("target_kind", ["sqlite", "postgres"])
def test_a_board_is_copied_whole_with_its_ids(
    store: Store, target_kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    _fill(store)
    url = _target(target_kind, request, tmp_path)
    copied = copy_board(store, url)
    assert copied.rows["cards"] == 2 and copied.rows["events"] >= 4
    with open_store(url, now=T0, clock="caller") as target:
        for table, key, _ in TABLES:
            assert _rows(target, table, key) == _rows(store, table, key), table
        # the next ids carry on after the copied ones
        card, _ = target.add_card(NewCard("third", "shell", 3), T0)
        assert card == 3
        assert target.card(2).depends_on == [1] and target.card(2).status == "ready"


@pytest.mark.engines("sqlite", "postgres")
def test_a_target_that_holds_anything_is_refused(
    cli: Cli, db_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    assert cli("board", "add", "mine", "--no-repo").code == 0
    other = _target("sqlite", request, tmp_path, "theirs")
    with open_store(other) as taken:
        taken.add_card(NewCard("theirs", "shell", 3), T0)
    result = cli("board", "copy", "--to", other)
    assert result.code == 2
    assert result.err.startswith(f"error: the target board {other} is not empty: it holds cards: 1")
    with open_store(other) as taken:
        assert [card.title for card in taken.list_cards(CardFilter(include_old=True), T0)] == [
            "theirs"
        ]
    empty = _target("postgres" if "sqlite" in db_url else "sqlite", request, tmp_path)
    result = cli("board", "copy", "--to", empty, "--json")
    assert result.code == 0, result.err
    assert result.json()["rows"]["cards"] == 1


def test_a_copy_slower_than_the_idle_limit_still_lands(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL ends sessions idle in a transaction (a frozen dispatcher must not hold
    the board); a copy keeps a reading and a writing transaction open, each idle while
    the other works, and a loaded machine once stalled one past that limit. Both ends
    here are PostgreSQL sessions opened under a 1 s limit, stalled for 1.5 s."""
    import time

    import board.postgres

    monkeypatch.setattr(board.postgres, "IDLE_IN_TRANSACTION", 1)
    with open_store(_target("postgres", request, tmp_path, "source")) as source:
        _fill(source)
        url = _target("postgres", request, tmp_path)
        stall = {"cards": 1.5}  # seconds both sides idle after the cards
        copied = copy_board(
            source, url, progress=lambda table, rows: time.sleep(stall.get(table, 0))
        )
        assert copied.rows["cards"] == 2
        with open_store(url) as target:
            for table, key, _ in TABLES:
                assert _rows(target, table, key) == _rows(source, table, key), table
