"""`hermes gateway allow|status|start` through the real command line, without a network."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import Cli


def test_allow_adds_users_to_the_settings_and_status_shows_the_platform(
    cli: Cli, hermes_home: Path
) -> None:
    first = cli("gateway", "allow", "telegram", "123456789")
    assert first.code == 0, first.err
    assert first.out.startswith("telegram user 123456789 may now create cards")
    assert cli("gateway", "allow", "telegram", "123456789").out.endswith("was already allowed\n")
    assert cli("gateway", "allow", "slack", "U0123").code == 0
    saved = yaml.safe_load((hermes_home / "config.yaml").read_text())
    assert saved == {"gateway": {"telegram": {"allow": [123456789]}, "slack": {"allow": ["U0123"]}}}
    rows = cli("gateway", "status", "--json").json()
    assert [(r["platform"], r["configured"], r["running"]) for r in rows] == [
        ("slack", True, False),
        ("telegram", True, False),
    ]
    shown = cli("gateway", "status").out
    assert "telegram  not running  no message yet; 0 chats with undelivered messages" in shown


def test_bad_gateway_commands_say_what_to_do(cli: Cli, hermes_home: Path) -> None:
    assert cli("gateway", "status").out == "no chat platform is set up (see docs/gateway.md)\n"
    nothing = cli("gateway", "start")
    assert nothing.code == 2 and "no chat platform is set up: add a gateway section" in nothing.err
    wrong = cli("gateway", "allow", "irc", "bob")
    assert wrong.code == 2 and "unknown platform 'irc'; use one of: telegram, discord" in wrong.err
    assert cli("gateway", "allow", "telegram", "1").code == 0
    unset = cli("gateway", "start")
    assert unset.code == 2
    assert "set TELEGRAM_BOT_TOKEN to the bot's token" in unset.err
    other = cli("gateway", "start", "--platform", "discord")
    assert other.code == 2 and "discord is not set up: add a gateway.discord section" in other.err
    (hermes_home / "config.yaml").write_text("gateway: {telegram: {alow: [1]}}\n")
    typo = cli("gateway", "status")
    assert (
        typo.code == 2
        and "'gateway.telegram.alow' is not a setting; did you mean 'allow'?" in typo.err
    )
