"""The Discord adapter: the real discord.py against the fake Discord server, first alone
(what it reads, sends, edits and answers, and how it fails), then with the conversation
and the notifier on a real board worked by a real dispatcher, and last as a real
`hermes gateway start` process that is killed and started again."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from board import open_store
from board.clock import utcnow
from gateway.chat.adapters import GatewayUnavailable, token
from gateway.chat.discord import LIMIT, DiscordPlatform, from_settings, plain
from gateway.chat.platform import Button, DeliveryError, Incoming, Outgoing, Press
from gateway.chat.service import serve
from hermes.config import read_config
from tests.gateway.fake_discord import BOT_ID, TOKEN, FakeDiscord, rendered
from tests.helpers.agents import KEY_ENV, agent_profile, call, tool_results
from tests.helpers.agents import serve as serve_model
from tests.helpers.processes import FAST, dispatcher, wait_until
from workers.agent.fake_openai import FakeOpenAI

ALICE, MALLORY = "100000000000000001", "100000000000000666"
DM, GUILD, CHANNEL = "200000000000000001", "300000000000000001", "400000000000000001"
MESSAGE_CONTENT = 1 << 15  # the privileged intent that lets a bot read messages


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    with FakeDiscord() as server:
        yield server


async def until(check: Callable[[], Any], timeout: float = 90) -> Any:
    """`check()` once it is truthy. Generous: on a loaded machine the dispatcher's agent
    template alone may take tens of seconds to warm up."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {check}")
        await asyncio.sleep(0.05)
    return found


def latest(fake: FakeDiscord, channel: str, prefix: str) -> dict[str, Any] | None:
    """The bot's latest message in `channel` whose text starts with `prefix`, as now."""
    found = [fake.messages[m["id"]] for m in fake.sent if m["channel_id"] == channel]
    return next((m for m in reversed(found) if rendered(m["content"]).startswith(prefix)), None)


def custom_ids(message: dict[str, Any]) -> dict[str, str]:
    """Button label -> custom_id of a message's components."""
    return {b["label"]: b["custom_id"] for row in message["components"] for b in row["components"]}


# -- the adapter alone ---------------------------------------------------------------


class Recorder:
    """A handler that remembers what it was given (and answers presses, maybe slowly)."""

    def __init__(self, delay: float = 0) -> None:
        self.heard: list[Incoming | Press] = []
        self.delay = delay

    async def on_message(self, incoming: Incoming) -> None:
        self.heard.append(incoming)

    async def on_press(self, press: Press) -> str:
        self.heard.append(press)
        await asyncio.sleep(self.delay)
        return f"pressed {press.data} *now*"


def alone(
    fake: FakeDiscord,
    scenario: Callable[[DiscordPlatform], Awaitable[None]],
    handler: Recorder | None = None,
    **options: Any,
) -> None:
    """Run `scenario` with the adapter connected to the fake, then stop it."""
    platform = DiscordPlatform(
        fake.token, api_base=fake.api_base, gateway_url=fake.gateway_url, **options
    )

    async def main() -> None:
        task = asyncio.create_task(platform.run(handler or Recorder()))
        try:
            await until(lambda: platform.connected and fake.connected)
            await scenario(platform)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert not platform.connected

    before = aimed_at()
    asyncio.run(main())
    assert aimed_at() == before  # pointed at the fake only while it ran


def unescaped(text: str) -> str:
    """The characters of `text` that Discord could read as markup or a mention."""
    found, chars = [], iter(text)
    for char in chars:
        if char == "\\":
            next(chars, None)
        elif char in "*_~|`>#-[<@":
            found.append(char)
    return "".join(found)


def test_plain_text_never_pings_nor_formats() -> None:
    text = "@everyone **bold** <#123> <@&45> `x` ||s|| > q\n# h\n1. one\n- two [a](b) ~~c~~ \\"
    escaped = plain(text)
    assert rendered(escaped) == text
    assert unescaped(escaped) == "" and "\n1\\. one" in escaped
    link = "see https://example.com/a_b*c done_"
    assert plain(link) == "see https://example.com/a_b*c done\\_"
    long = plain("_" * 3000)
    assert len(long) == LIMIT - 1 and long.endswith("_…")  # no escape cut in half
    assert len(plain("a" * 3000)) == LIMIT


def test_messages_are_read_as_direct_only_in_dms_mentions_and_replies(fake: FakeDiscord) -> None:
    recorder = Recorder()

    async def scenario(platform: DiscordPlatform) -> None:
        assert fake.intents is not None and fake.intents & MESSAGE_CONTENT
        fake.say(DM, ALICE, "echo from a dm")
        fake.say(CHANNEL, ALICE, "just chatting", guild=GUILD)
        fake.say(CHANNEL, ALICE, "echo mentioned\nsecond line", guild=GUILD, mention=True)
        mine = await platform.send(CHANNEL, Outgoing("card 1 running: x"))
        fake.say(CHANNEL, ALICE, "keep going", guild=GUILD, reply_to=mine)
        fake.dispatch("MESSAGE_CREATE", fake.messages[mine])  # the bot hears itself: ignored
        await until(lambda: len(recorder.heard) == 4)

    alone(fake, scenario, recorder)
    dm, chat, mention, reply = recorder.heard
    assert isinstance(dm, Incoming) and (dm.chat, dm.user, dm.direct) == (DM, ALICE, True)
    assert dm.text == "echo from a dm" and dm.reply_to is None and dm.message.isdigit()
    assert isinstance(chat, Incoming) and not chat.direct
    assert isinstance(mention, Incoming) and mention.direct and mention.chat == CHANNEL
    assert mention.text == "echo mentioned\nsecond line" and BOT_ID not in mention.text
    assert isinstance(reply, Incoming) and reply.direct and reply.text == "keep going"
    assert reply.reply_to == fake.sent[0]["id"]


def test_sends_are_plain_with_buttons_and_replies_and_edits_replace_them(
    fake: FakeDiscord,
) -> None:
    text = "card 1 wants to run:\nrm -rf /srv/*\n@here high risk: <#1> deletes **data**"
    buttons = (Button("Approve", "hermes:approve:1:7"), Button("Reject", "hermes:reject:1:7"))

    async def scenario(platform: DiscordPlatform) -> None:
        asked = fake.say(DM, ALICE, "do it")
        sent = await platform.send(DM, Outgoing(text, buttons, reply_to=asked))
        assert custom_ids(fake.messages[sent]) == {
            "Approve": "hermes:approve:1:7",
            "Reject": "hermes:reject:1:7",
        }
        await platform.edit(DM, sent, Outgoing("card 1: approved (discord)", buttons[:1]))
        assert custom_ids(fake.messages[sent]) == {"Approve": "hermes:approve:1:7"}
        await platform.edit(DM, sent, Outgoing("card 1: approved (discord)"))

    alone(fake, scenario)
    (sent,) = fake.sent
    assert rendered(sent["content"]) == text and unescaped(sent["content"]) == ""
    assert sent["allowed_mentions"]["parse"] == [] and not sent["allowed_mentions"]["replied_user"]
    replied = fake.messages[str(sent["message_reference"]["message_id"])]
    assert (replied["author"]["id"], replied["content"]) == (ALICE, "do it")
    assert fake.messages[sent["id"]]["type"] == 19  # a reply to the user's message
    assert [e["components"] for e in fake.edits][1] == []  # the last edit removed the buttons
    assert fake.texts(DM) == ["card 1: approved (discord)"]


def test_presses_come_back_with_their_data_and_are_answered_privately(fake: FakeDiscord) -> None:
    recorder = Recorder()

    async def scenario(platform: DiscordPlatform) -> None:
        sent = await platform.send(DM, Outgoing("approve?", (Button("Approve", "hermes:a"),)))
        fake.press(DM, ALICE, sent, "hermes:a")
        await until(lambda: fake.answers)

    alone(fake, scenario, recorder)
    (press,) = recorder.heard
    assert press == Press(chat=DM, user=ALICE, message=fake.sent[0]["id"], data="hermes:a")
    (answer,) = fake.answers
    assert answer["type"] == 4 and answer["data"]["flags"] == 64  # ephemeral
    assert rendered(answer["data"]["content"]) == "pressed hermes:a *now*"


def test_a_slow_press_is_deferred_then_followed_up(fake: FakeDiscord) -> None:
    async def scenario(platform: DiscordPlatform) -> None:
        sent = await platform.send(DM, Outgoing("approve?", (Button("Approve", "hermes:a"),)))
        fake.press(DM, ALICE, sent, "hermes:a")
        await until(lambda: len(fake.answers) == 2)

    alone(fake, scenario, Recorder(delay=2.5))
    deferred, followup = fake.answers
    assert deferred["type"] == 5 and deferred["data"]["flags"] == 64
    assert rendered(followup["content"]) == "pressed hermes:a *now*" and followup["flags"] == 64


def test_platform_errors_become_delivery_errors(fake: FakeDiscord) -> None:
    errors: list[DeliveryError] = []

    async def refused(attempt: Awaitable[Any]) -> None:
        with pytest.raises(DeliveryError) as caught:
            await attempt
        errors.append(caught.value)

    async def scenario(platform: DiscordPlatform) -> None:
        theirs = fake.say(DM, ALICE, "mine")
        await refused(platform.edit(DM, theirs, Outgoing("x")))  # not the bot's message
        await refused(platform.edit(DM, "123", Outgoing("x")))  # no such message
        await refused(platform.send("not-a-channel", Outgoing("x")))
        fake.gone.add(CHANNEL)
        await refused(platform.send(CHANNEL, Outgoing("x")))  # a channel that is gone
        fake.fail_next(1, 429, retry_after=5)
        await refused(platform.send(DM, Outgoing("x")))
        fake.fail_next(1, 500)  # not retried by the library: the notifier decides
        await refused(platform.send(DM, Outgoing("x")))
        fake.hold()  # no answer at all
        await refused(platform.send(DM, Outgoing("x")))
        fake.release()
        assert await platform.send(DM, Outgoing("and now it works"))

    alone(fake, scenario, send_timeout=0.5)
    assert [e.permanent for e in errors] == [True, True, True, True, False, False, False]
    assert [e.retry_after for e in errors[4:]] == [5, None, None]
    assert "404" in str(errors[3]) and "Unknown Channel" in str(errors[3])
    assert "429" in str(errors[4]) and "500" in str(errors[5]) and "0.5s" in str(errors[6])
    assert [rendered(m["content"]) for m in fake.sent] == ["x", "and now it works"]  # held, then


def test_a_dropped_connection_comes_back(fake: FakeDiscord) -> None:
    recorder = Recorder()

    async def scenario(platform: DiscordPlatform) -> None:
        fake.drop()
        await until(lambda: fake.connected and platform.connected)
        fake.say(DM, ALICE, "still there?")
        await until(lambda: recorder.heard)

    alone(fake, scenario, recorder)


def test_a_refused_token_names_its_variable(fake: FakeDiscord) -> None:
    before = aimed_at()
    platform = DiscordPlatform(
        "not-the-token", token_env="MY_BOT_TOKEN", api_base=fake.api_base,
        gateway_url=fake.gateway_url,
    )  # fmt: skip
    with pytest.raises(GatewayUnavailable) as caught:
        asyncio.run(platform.run(Recorder()))
    assert "MY_BOT_TOKEN" in str(caught.value) and "not-the-token" not in str(caught.value)
    assert aimed_at() == before and not platform.connected


def test_a_token_refused_by_the_gateway_names_its_variable(fake: FakeDiscord) -> None:
    fake.gateway_token = "another"  # REST takes the login; IDENTIFY is refused (4004)
    platform = DiscordPlatform(TOKEN, api_base=fake.api_base, gateway_url=fake.gateway_url)
    with pytest.raises(GatewayUnavailable, match="DISCORD_BOT_TOKEN"):
        asyncio.run(asyncio.wait_for(platform.run(Recorder()), 30))


def aimed_at() -> tuple[Any, Any]:
    """Where discord.py sends its requests and opens its websocket."""
    import discord.gateway  # after the adapter, which imports it without its warning
    import discord.http

    return discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY


# -- with the board --------------------------------------------------------------------


def configure(home: Path, fake: FakeDiscord, profile: str = "shell") -> dict[str, Any]:
    """config.yaml with a discord section pointed at the fake; returns the settings."""
    section = {
        "api_base": fake.api_base,
        "gateway_url": fake.gateway_url,
        "allow": [int(ALICE)],
        "profile": profile,
    }
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(yaml.safe_dump({"gateway": {"discord": section}}))
    return section


def run(
    db_url: str,
    home: Path,
    fake: FakeDiscord,
    scenario: Callable[[], Awaitable[None]],
    profile: str = "shell",
) -> list[str]:
    """The gateway's service for discord, made from config.yaml as `gateway start` makes
    it, while `scenario` runs; returns what the service reported."""
    configure(home, fake, profile)
    section = read_config(home, db_url).settings.gateway.discord
    platform = from_settings(section, token)
    reports: list[str] = []

    async def main() -> None:
        service = asyncio.create_task(serve(platform, section, db_url, reports.append))
        try:
            await until(lambda: platform.connected or service.done())
            await scenario()
        finally:
            crashed = service.done() and not service.cancelled() and service.exception()
            service.cancel()
            await asyncio.gather(service, return_exceptions=True)
        if crashed:
            raise crashed

    asyncio.run(main())
    return reports


@pytest.fixture
def bot_token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DISCORD_BOT_TOKEN", TOKEN)
    return TOKEN


def test_a_message_becomes_a_card_and_the_chat_hears_how_it_went(
    db_url: str, hermes_home: Path, fake: FakeDiscord, bot_token: str
) -> None:
    async def scenario() -> None:
        first = fake.say(DM, ALICE, "echo hello from discord")
        await until(lambda: fake.texts(DM))
        fake.redeliver(first)  # the same update again
        await until(lambda: len(fake.texts(DM)) == 2)
        with dispatcher(*FAST):
            await until(lambda: latest(fake, DM, "card 1 done"))

    run(db_url, hermes_home, fake, scenario)
    texts = fake.texts(DM)
    assert texts[0].startswith("card 1: echo hello from discord\nI'll tell you when it starts")
    assert texts[1].startswith("card 1: echo hello from discord (already on the board)")
    assert texts[2] == "card 1 running: echo hello from discord"
    assert texts[3].startswith("card 1 done: echo hello from discord\nhello from discord")
    assert str(fake.sent[3]["message_reference"]["message_id"]) == fake.sent[2]["id"]  # a reply
    with open_store(db_url) as store:
        card = store.card(1)
        first = next(m for m in fake.messages.values() if m["author"]["id"] == ALICE)
        assert card.source == f"discord:{DM}" and card.key == f"discord:{DM}:{first['id']}"
        assert store.stats(utcnow())["cards"] == 1


def test_strangers_are_told_their_id_once_and_create_nothing(
    db_url: str, hermes_home: Path, fake: FakeDiscord, bot_token: str
) -> None:
    async def scenario() -> None:
        fake.say(CHANNEL, MALLORY, "echo hi", guild=GUILD, mention=True)
        await until(lambda: fake.texts(CHANNEL))
        fake.say(CHANNEL, MALLORY, "echo again", guild=GUILD, mention=True)
        fake.press(CHANNEL, MALLORY, fake.sent[0]["id"], "hermes:approve:1:1")
        await until(lambda: fake.answers)

    run(db_url, hermes_home, fake, scenario)
    assert fake.texts(CHANNEL) == [
        f"You are not on this bot's allow list. Your discord id is {MALLORY}; whoever runs "
        f"hermes can allow you with: hermes gateway allow discord {MALLORY}"
    ]
    assert rendered(fake.answers[0]["data"]["content"]) == "you are not on this bot's allow list"
    with open_store(db_url) as store:
        assert store.stats(utcnow())["cards"] == 0


def test_a_failing_discord_gets_every_message_in_order_once_it_recovers(
    db_url: str, hermes_home: Path, fake: FakeDiscord, bot_token: str
) -> None:
    async def scenario() -> None:
        fake.say(DM, ALICE, "echo one")
        await until(lambda: fake.texts(DM))
        fake.fail_next(2, 500)
        fake.fail_next(1, 429, retry_after=2)
        with dispatcher(*FAST):
            await until(lambda: latest(fake, DM, "card 1 done"))

    reports = run(db_url, hermes_home, fake, scenario)
    assert [t.split(":")[0] for t in fake.texts(DM)] == ["card 1", "card 1 running", "card 1 done"]
    refusals = [line for line in reports if "could not send" in line]
    assert len(refusals) == 3, reports  # each refusal went back to the notifier, once
    assert "500 from discord" in refusals[0] and "trying again in 1s" in refusals[0]
    assert "429 from discord" in refusals[2] and "trying again in 2s" in refusals[2]
    with open_store(db_url) as store:
        (sub,) = store.subscriptions()
        assert sub.failures == 0 and sub.last_error is None


def test_approvals_rejections_questions_and_comments_from_discord(
    db_url: str,
    hermes_home: Path,
    fake: FakeDiscord,
    bot_token: str,
    model: list[FakeOpenAI],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")
    server = serve_model(
        model,
        [
            {"tool_calls": [call("shell", command="git push --force origin main")]},
            {"when": "rejected by a human",
             "tool_calls": [call("shell", command="git push --force origin release")]},
            {"when": "exit code", "tool_calls": [call("ask_human", question="eu or us?")]},
            {"when": "eu-west", "text": "Deployed to eu-west."},
        ],
    )  # fmt: skip
    agent_profile(hermes_home, "ops", server.url, backend="local", approvals="ask")

    def find(prefix: str) -> dict[str, Any] | None:
        return latest(fake, CHANNEL, prefix)

    async def press(message: dict[str, Any], label: str, answers: int) -> None:
        fake.press(CHANNEL, ALICE, message["id"], custom_ids(message)[label])
        await until(lambda: len(fake.answers) == answers)

    async def scenario() -> None:
        fake.say(CHANNEL, ALICE, "Deploy the site", guild=GUILD, mention=True)
        with dispatcher(*FAST, "--lease", "30"):
            first = await until(lambda: find("card 1 wants to run:"))
            assert "git push --force origin main" in rendered(first["content"])
            await press(first, "Reject", 1)
            second = await until(lambda: find("card 1 wants to run:\ngit push --force origin rel"))
            assert "high risk" in rendered(second["content"])
            await press(second, "Approve", 2)
            question = await until(lambda: find("card 1 asks: eu or us?"))
            status = find("card 1 running")
            assert status is not None
            fake.say(CHANNEL, ALICE, "keep going", guild=GUILD, reply_to=status["id"])
            await until(lambda: find("card 1: noted"))
            fake.say(CHANNEL, ALICE, "eu-west", guild=GUILD, reply_to=question["id"])
            await until(lambda: find("card 1 done"))

    run(db_url, hermes_home, fake, scenario, profile="ops")
    assert [rendered(a["data"]["content"]) for a in fake.answers] == [
        "card 1: rejected",
        "card 1: approved",
    ]
    asked = [m for m in fake.sent if rendered(m["content"]).startswith("card 1 wants to run:")]
    assert [fake.texts(CHANNEL)[fake.sent.index(m)] for m in asked] == [
        "card 1: rejected (discord)",
        "card 1: approved (discord)",
    ]
    assert all(fake.messages[m["id"]]["components"] == [] for m in asked)
    done = rendered(find("card 1 done")["content"])  # type: ignore[index]
    assert done.startswith("card 1 done: Deploy the site\nDeployed to eu-west.")
    rejected = next(r for r in server.requests if "rejected by a human" in str(r["messages"]))
    assert tool_results(rejected)[-1] == "rejected by a human: rejected"
    assert tool_results(server.requests[-1])[-1] == "eu-west"
    with open_store(db_url) as store:
        events = store.detail(1).events
    comment = next(e for e in events if e.kind == "comment")
    assert (comment.actor, comment.data["text"]) == (f"discord:{ALICE}", "keep going")
    kinds = ("approved", "rejected", "answered")
    assert [e.actor for e in events if e.kind in kinds] == [f"discord:{ALICE}"] * 3


def test_a_button_of_a_reclaimed_run_is_refused(
    db_url: str,
    hermes_home: Path,
    fake: FakeDiscord,
    bot_token: str,
    model: list[FakeOpenAI],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")
    server = serve_model(
        model,
        [
            {"tool_calls": [call("shell", command="git push --force origin main")]},
            {"when": "exit code", "text": "Pushed."},
        ],
    )
    agent_profile(hermes_home, "ops", server.url, backend="local", approvals="ask",
                  max_attempts=2)  # fmt: skip

    def asked() -> list[dict[str, Any]]:
        return [
            fake.messages[m["id"]]
            for m in fake.sent
            if rendered(m["content"]).startswith("card 1 wants to run:")
        ]

    async def scenario() -> None:
        fake.say(DM, ALICE, "/profile ops Push it")
        with dispatcher(*FAST):
            (old,) = await until(asked)
            with open_store(db_url) as store:
                pid = store.detail(1).runs[-1].pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)  # the worker dies: its run is reclaimed
            old, new = await until(lambda: len(asked()) == 2 and asked())
            fake.press(DM, ALICE, old["id"], custom_ids(old)["Approve"])
            await until(lambda: fake.answers)
            fake.press(DM, ALICE, new["id"], custom_ids(new)["Approve"])
            await until(lambda: latest(fake, DM, "card 1 done"))

    run(db_url, hermes_home, fake, scenario, profile="ops")
    stale, fresh = (rendered(a["data"]["content"]) for a in fake.answers)
    assert "has ended" in stale and "no longer applies" in stale
    assert fresh == "card 1: approved"
    with open_store(db_url) as store:
        runs = store.detail(1).runs
    assert [r.outcome for r in runs] == ["reclaimed", "done"]


# -- a real gateway process ----------------------------------------------------------------


def start_gateway(log: Path) -> subprocess.Popen[bytes]:
    """`hermes gateway start --platform discord`, as a user runs it (config.yaml in
    HERMES_HOME, the token in the environment), its output appended to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "hermes", "gateway", "start", "--platform", "discord"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "DISCORD_BOT_TOKEN": TOKEN},
            start_new_session=True,
        )


def test_a_killed_gateway_sends_after_a_restart_what_it_had_not_sent(
    db_url: str, hermes_home: Path, fake: FakeDiscord, tmp_path: Path
) -> None:
    configure(hermes_home, fake)
    log = tmp_path / "gateway.log"
    gateway = start_gateway(log)
    try:
        wait_until(lambda: fake.connected, timeout=90)
        fake.say(DM, ALICE, "echo survived")
        wait_until(lambda: fake.texts(DM), timeout=90)
        fake.hold()  # Discord takes the next message but does not answer
        with dispatcher(*FAST):
            wait_until(lambda: len(fake.sent) == 2, timeout=90)  # "running", in flight
            gateway.kill()  # kill -9: the board never heard that it was sent
            gateway.wait(10)
            with open_store(db_url) as store:
                wait_until(lambda: store.card(1).status == "done", timeout=90)
        fake.release()
        gateway = start_gateway(log)
        wait_until(lambda: latest(fake, DM, "card 1 done"), timeout=90)
    finally:
        gateway.send_signal(signal.SIGTERM)
        try:
            gateway.wait(20)
        except subprocess.TimeoutExpired:
            gateway.kill()
            gateway.wait()
    texts = fake.texts(DM)
    assert [t.split(":")[0] for t in texts] == [
        "card 1", "card 1 running", "card 1 running", "card 1 done",
    ], log.read_text()  # fmt: skip
