"""`hermes web` as a person runs it: it says where it serves, stops on Ctrl-C or SIGTERM
with exit 0, and refuses a bad port or host with exit 2 and one `error:` line."""

from __future__ import annotations

import signal

import httpx
import pytest

from tests.conftest import Cli
from tests.http.conftest import Web, start_web


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--port", "0"], "--port 0 must be between 1 and 65,535"),
        (["--port", "70000"], "--port 70000 must be between 1 and 65,535"),
        (["--port", "eighty"], "eighty"),
        (["--host", ""], "--host is empty"),
        (["--host", "bad host!"], "reachable from other machines"),
    ],
)
def test_bad_port_or_host_is_one_error_line(cli: Cli, args: list[str], words: str) -> None:
    result = cli("web", *args)
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("error: ") and words in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_a_port_in_use_is_refused(web: Web, cli: Cli) -> None:
    result = cli("web", "--port", str(web.port))
    assert result.code == 2 and result.out == ""
    assert result.err.startswith(f"error: cannot listen on 127.0.0.1:{web.port}: ")
    assert "choose another port" in result.err and len(result.err.strip().splitlines()) == 1


def test_an_address_not_of_this_machine_is_refused(cli: Cli) -> None:
    # 192.0.2.1 is a documentation address: no lookup, nothing sent, it cannot be bound
    result = cli("web", "--host", "192.0.2.1", "--port", "8999", HERMES_TOKEN="t")
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("error: cannot listen on 192.0.2.1:8999: ")


def test_a_bad_keepalive_setting_is_refused(cli: Cli) -> None:
    result = cli("web", "--port", "8999", HERMES_HTTP_KEEPALIVE="often")
    assert result.code == 2
    assert result.err.strip() == (
        "error: HERMES_HTTP_KEEPALIVE 'often' must be a number of seconds, 0.01 to 3600"
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_it_serves_until_a_signal_then_exits_0(sig: signal.Signals) -> None:
    server = start_web()
    assert server.first_line == (
        f"hermes web: serving http://127.0.0.1:{server.port}/; Ctrl-C stops\n"
    )
    assert httpx.get(f"{server.url}/api/cards", timeout=30).json() == []
    code, out = server.stop(sig)
    assert code == 0, out
    assert out == "hermes web: stopping: http\n"
