"""The real CLI keeps titles and bodies byte-exact, through argv, files and stdin."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Cli
from tests.integration.test_roundtrip import big_body

# argv cannot carry NUL; everything else a shell can pass is fair game.
argv_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=300
)
body_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=3000)

slow_ok = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@slow_ok
@given(title=argv_text.filter(lambda t: t.strip() != "" and not t.startswith("-")), body=body_text)
def test_cli_round_trips_title_and_stdin_body(cli: Cli, title: str, body: str) -> None:
    added = cli("board", "add", title, "--no-repo", "--body-file", "-", input=body)
    assert added.code == 0, added.err
    card = cli("board", "show", added.out.strip(), "--json").json()
    assert (card["title"], card["body"]) == (title, body)


def test_cli_round_trips_quotes_and_a_200_kb_body_file(cli: Cli, tmp_path: Path) -> None:
    body = big_body(200 * 1024)
    path = tmp_path / "body.txt"
    path.write_bytes(body.encode("utf-8"))
    title = 'it\'s a "quoted" $HOME `title` — ünïcödé 🙂'
    added = cli("board", "add", title, "--no-repo", "--body-file", str(path), "--json")
    assert added.code == 0, added.err
    card = added.json()
    assert (card["title"], card["body"]) == (title, body)
    assert cli("board", "show", str(card["id"]), "--json").json()["body"] == body
