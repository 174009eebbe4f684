"""`/api/cards/{id}/log/stream`: a shell card's output arrives while the card runs (the
card waits for the test to see its first line before it prints the second), then `end`
with the card's status once everything was sent."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import Cli, add
from tests.helpers.processes import FAST, dispatcher, local_shell, wait_until
from tests.http.conftest import Stream, Web

SCRIPT = "echo first line; while [ ! -e go ]; do sleep 0.05; done; echo second line"


def test_a_running_cards_log_arrives_as_it_grows_then_end(
    web: Web, cli: Cli, hermes_home: Path, streams: list[Stream]
) -> None:
    shell = local_shell(hermes_home)
    card = add(cli, "Two lines", "--profile", shell, "--body", SCRIPT)
    stream = Stream(f"{web.url}/api/cards/{card}/log/stream")
    streams.append(stream)
    assert stream.status == 200
    with dispatcher(*FAST):
        wait_until(lambda: "first line" in text(stream), timeout=60)
        assert "second line" not in text(stream) and stream.events("end") == []
        assert httpx.get(f"{web.url}/api/cards/{card}").json()["status"] == "running"
        (hermes_home / "workspaces" / f"card-{card}" / "go").touch()
        (end,) = stream.wait_for(1, "end", timeout=60)
    assert end.data == "done"
    logged = text(stream)
    assert logged.index("first line") < logged.index("second line")
    runs = {e.json()["run"] for e in stream.events("log")}
    document = httpx.get(f"{web.url}/api/cards/{card}/log").json()
    assert runs == {run["run"] for run in document["runs"]}
    assert logged == "".join(run["log"] for run in document["runs"])  # every byte, once
    wait_until(lambda: stream.ended, timeout=10)


def test_a_finished_cards_stream_gives_its_log_and_ends(
    web: Web, cli: Cli, hermes_home: Path, streams: list[Stream]
) -> None:
    shell = local_shell(hermes_home)
    card = add(cli, "Say ünïcode", "--profile", shell, "--body", "printf 'caf\\xc3\\xa9 ✓\\n'")
    with dispatcher("--until-idle", *FAST) as proc:
        proc.wait(timeout=60)
    stream = Stream(f"{web.url}/api/cards/{card}/log/stream")
    streams.append(stream)
    (end,) = stream.wait_for(1, "end")
    assert end.data == "done" and "café ✓" in text(stream)
    cancelled = add(cli, "Never ran", "--backlog")
    cli("board", "cancel", str(cancelled))
    nothing = Stream(f"{web.url}/api/cards/{cancelled}/log/stream")
    streams.append(nothing)
    assert [e.data for e in nothing.wait_for(1, "end")] == ["cancelled"]
    assert nothing.events("log") == []


def text(stream: Stream) -> str:
    """Everything the stream's `log` events carried, in order."""
    return "".join(str(e.json()["text"]) for e in stream.events("log"))
