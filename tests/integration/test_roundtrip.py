"""Titles and bodies come back exactly as they went in: unicode, quotes, NULs, 200 KB."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from board import NewCard, Store
from tests.conftest import T0

# Any Unicode text a file or a terminal can carry (no lone surrogates: not encodable).
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=2000)
titles = text.filter(lambda t: t.strip() != "")

fixture_ok = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@fixture_ok
@given(title=titles, body=text, labels=st.lists(titles, max_size=4))
def test_store_round_trips_text_exactly(
    store: Store, engine: str, title: str, body: str, labels: list[str]
) -> None:
    if engine == "postgres":  # PostgreSQL text holds no NUL (refused as bad input there)
        assume("\x00" not in title + body + "".join(labels))
    card_id, _ = store.add_card(NewCard(title, "shell", 1, body=body, labels=labels), T0)
    card = store.card(card_id)
    assert (card.title, card.body) == (title, body)
    assert card.labels == list(dict.fromkeys(labels))
    assert store.detail(card_id).to_json()["body"] == body


def big_body(size: int, *, nul: bool = True) -> str:
    rng = random.Random(7)
    alphabet = "abc \"'`$\\\n\t\ré漢字🙂\u200b\ufeff{}[]" + "\x00" * nul
    return "".join(rng.choice(alphabet) for _ in range(size))


def test_store_round_trips_a_200_kb_body(store: Store, engine: str) -> None:
    body = big_body(200 * 1024, nul=engine == "sqlite")
    card_id, _ = store.add_card(NewCard("big", "shell", 1, body=body), T0)
    assert store.card(card_id).body == body
