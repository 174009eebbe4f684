"""The Telegram adapter: python-telegram-bot itself, against the fake Bot API server, on
a real board worked by a real dispatcher (and, for agents, the scripted model server).

The scenarios are those of `test_conversation.py`, through the real client library:
messages become cards and the chat hears how they went; strangers are told once;
approvals, rejections, questions and comments from the chat; a failing platform gets
every message in order; a button of a run that was taken back is refused; and a gateway
killed -9 between a board event and its message sends it after its restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from board import open_store
from board.clock import utcnow
from gateway.chat.adapters import make_platform
from gateway.chat.platform import Button, DeliveryError, Incoming, Outgoing, Press
from gateway.chat.service import serve
from gateway.chat.telegram import TelegramPlatform, TokenRefused, plain
from tests.gateway.fake_telegram import FakeTelegram, Sent
from tests.helpers.agents import KEY_ENV, agent_profile, call, tool_results
from tests.helpers.agents import serve as serve_model
from tests.helpers.processes import FAST, dispatcher, wait_until
from workers.agent.fake_openai import FakeOpenAI

ALICE, MALLORY, GROUP = 111, 666, -100
SECTION = SimpleNamespace(allow=[ALICE], profile="shell", repo=None)


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


async def until(check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {check}")
        await asyncio.sleep(0.05)
    return found


class Nobody:
    """A handler for tests where no one writes."""

    async def on_message(self, incoming: Incoming) -> None:
        raise AssertionError(f"no message expected, got {incoming}")

    async def on_press(self, press: Press) -> str:
        raise AssertionError(f"no press expected, got {press}")


def bot(tg: FakeTelegram) -> TelegramPlatform:
    return TelegramPlatform(tg.token, api_base=tg.api_base)


def run(
    db_url: str, tg: FakeTelegram, scenario: Callable[[TelegramPlatform], Awaitable[None]]
) -> None:
    """The gateway (Telegram adapter, conversation, notifier) while `scenario` runs."""

    async def main() -> None:
        platform = bot(tg)
        service = asyncio.create_task(serve(platform, SECTION, db_url))
        try:
            await until(lambda: platform.connected or service.done())
            await scenario(platform)
        finally:
            service.cancel()
            await asyncio.gather(service, return_exceptions=True)

    asyncio.run(main())


def first(tg: FakeTelegram, prefix: str, *, containing: str = "") -> Sent | None:
    """The bot's first message that was sent starting with `prefix` (edits aside)."""
    return next(
        (s for s in tg.sent if s.texts[0].startswith(prefix) and containing in s.texts[0]), None
    )


def test_a_message_becomes_a_card_and_the_chat_hears_how_it_went(
    db_url: str, tg: FakeTelegram
) -> None:
    said: list[int] = []

    async def scenario(platform: TelegramPlatform) -> None:
        said.append(tg.say(ALICE, ALICE, "echo hello from telegram"))
        await until(lambda: tg.texts(ALICE))
        tg.again(said[0])  # the same message, delivered twice
        await until(lambda: len(tg.texts(ALICE)) == 2)
        with dispatcher(*FAST):
            await until(lambda: any("done" in t for t in tg.texts(ALICE)))
        assert platform.connected

    run(db_url, tg, scenario)
    ack, again, status, done = tg.sent
    assert ack.text.startswith("card 1: echo hello from telegram\nI'll tell you when it starts")
    assert again.text.startswith("card 1: echo hello from telegram (already on the board)")
    assert (ack.reply_to, again.reply_to) == (said[0], said[0])
    assert status.text == "card 1 running: echo hello from telegram"
    assert done.text.startswith("card 1 done: echo hello from telegram\nhello from telegram")
    assert done.reply_to == status.id  # the end answers the status message
    assert "parse_mode" not in ack.params  # plain text
    assert ack.params["link_preview_options"] == {"is_disabled": True}
    assert tg.confirmed > tg.history[-1]["update_id"]  # every update read and confirmed
    with open_store(db_url) as store:
        card = store.card(1)
        assert (card.source, card.key) == ("telegram:111", f"telegram:111:{said[0]}")
        assert store.stats(utcnow())["cards"] == 1
        (sub,) = store.subscriptions()
        assert sub.closed_at is not None


def test_in_a_group_only_mentions_and_replies_count_and_names_are_defused(
    db_url: str, tg: FakeTelegram
) -> None:
    async def scenario(_platform: TelegramPlatform) -> None:
        tg.say(GROUP, ALICE, "echo chatter among people")  # not for the bot
        tg.say(GROUP, ALICE, "echo hi @everyone and @team_channel", mention=True)
        await until(lambda: tg.texts(GROUP))
        tg.say(GROUP, ALICE, "/status@hermes_test_bot")
        await until(lambda: len(tg.texts(GROUP)) == 2)

    run(db_url, tg, scenario)
    ack, status = tg.texts(GROUP)
    assert ack.startswith("card 1: echo hi @\u2060everyone and @\u2060team_channel\n")
    assert status.startswith("the board: ") and "1 ready" in status
    with open_store(db_url) as store:
        assert store.stats(utcnow())["cards"] == 1
        assert store.card(1).body == "echo hi @everyone and @team_channel"  # mention gone


def test_strangers_are_told_once_and_create_nothing(db_url: str, tg: FakeTelegram) -> None:
    async def scenario(platform: TelegramPlatform) -> None:
        tg.say(MALLORY, MALLORY, "echo hi")
        await until(lambda: tg.texts(MALLORY))
        tg.say(MALLORY, MALLORY, "echo again")
        approve = Button("Approve", "hermes:approve:1:1")
        sent = await platform.send(str(MALLORY), Outgoing("x", (approve,)))
        query = tg.press(int(sent), MALLORY, "Approve")
        await until(lambda: query in tg.toasts)
        assert tg.toasts[query] == "you are not on this bot's allow list"

    run(db_url, tg, scenario)
    assert tg.texts(MALLORY)[0] == (
        "You are not on this bot's allow list. Your telegram id is 666; whoever runs hermes "
        "can allow you with: hermes gateway allow telegram 666"
    )
    assert len(tg.texts(MALLORY)) == 2  # that answer, and the message the test sent
    with open_store(db_url) as store:
        assert store.stats(utcnow())["cards"] == 0


def test_a_failing_platform_gets_every_message_in_order_once_it_recovers(
    db_url: str, tg: FakeTelegram
) -> None:
    async def scenario(_platform: TelegramPlatform) -> None:
        # the answer to the message, and the error the conversation then tries to say,
        # both fail: the update is read again and answered once Telegram takes messages
        tg.fail(2, 500)
        tg.say(ALICE, ALICE, "echo one")
        await until(lambda: tg.texts(ALICE))
        tg.fail(2, 500)
        tg.fail(1, 429, retry_after=1)
        with dispatcher(*FAST):
            await until(lambda: any("done" in t for t in tg.texts(ALICE)), timeout=60)

    run(db_url, tg, scenario)
    texts = tg.texts(ALICE)
    assert [t.split(":")[0] for t in texts] == ["card 1", "card 1 running", "card 1 done"]
    assert texts[0].startswith("card 1: echo one (already on the board)")
    tried = [method for method, _ in tg.requests if method == "sendMessage"]
    assert len(tried) == len(texts) + 5  # each failure was tried again
    with open_store(db_url) as store:
        (sub,) = store.subscriptions()
        assert sub.failures == 0 and sub.last_error is None


def test_approvals_rejections_questions_and_comments_from_the_chat(
    db_url: str,
    hermes_home: Path,
    tg: FakeTelegram,
    model: list[FakeOpenAI],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")
    server = serve_model(
        model,
        [
            {"tool_calls": [call("shell", command="git push --force origin main")]},
            {
                "when": "exit code",
                "tool_calls": [call("shell", command="git push --force origin dev")],
            },
            {
                "when": "rejected by a human",
                "tool_calls": [call("ask_human", question="eu or us?")],
            },
            {"when": "eu-west", "text": "Deployed to eu-west."},
        ],
    )
    agent_profile(hermes_home, "ops", server.url, backend="local", approvals="ask")
    toasts: list[str] = []

    async def press(sent: Sent, label: str) -> None:
        query = tg.press(sent.id, ALICE, label)
        toasts.append(await until(lambda: tg.toasts.get(query)))

    async def scenario(_platform: TelegramPlatform) -> None:
        tg.say(ALICE, ALICE, "/profile ops Deploy the site")
        with dispatcher(*FAST, "--lease", "30"):
            main = await until(lambda: first(tg, "card 1 wants to run:", containing="main"))
            assert "high risk" in main.text and [b for b, _ in main.buttons] == [
                "Approve",
                "Reject",
            ]
            await press(main, "Approve")
            dev = await until(lambda: first(tg, "card 1 wants to run:", containing="dev"))
            await press(dev, "Reject")
            question = await until(lambda: first(tg, "card 1 asks: eu or us?"))
            status = first(tg, "card 1 running")
            assert status is not None and question.reply_to == status.id
            tg.say(ALICE, ALICE, "keep going", reply_to=status.id)
            await until(lambda: first(tg, "card 1: noted"))
            tg.say(ALICE, ALICE, "eu-west", reply_to=question.id)
            await until(lambda: first(tg, "card 1 done"))

    run(db_url, tg, scenario)
    assert toasts == ["card 1: approved", "card 1: rejected"]
    main = first(tg, "card 1 wants to run:", containing="main")
    dev = first(tg, "card 1 wants to run:", containing="dev")
    assert main and dev and (main.text, main.buttons) == ("card 1: approved (telegram)", [])
    assert (dev.text, dev.buttons) == ("card 1: rejected (telegram)", [])
    assert first(tg, "card 1: answered; it goes on") is not None
    done = first(tg, "card 1 done")
    assert done and done.text.startswith("card 1 done: Deploy the site\nDeployed to eu-west.")
    assert tool_results(server.requests[2])[-1] == "rejected by a human: rejected"
    assert tool_results(server.requests[-1])[-1] == "eu-west"
    with open_store(db_url) as store:
        events = store.detail(1).events
    comment = next(e for e in events if e.kind == "comment")
    assert (comment.actor, comment.data["text"]) == ("telegram:111", "keep going")


def test_a_button_of_a_run_that_was_taken_back_is_refused(
    db_url: str,
    hermes_home: Path,
    tg: FakeTelegram,
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
    agent_profile(hermes_home, "ops", server.url, backend="local", approvals="ask", max_attempts=2)
    toasts: list[str] = []

    def worker() -> int | None:
        with open_store(db_url) as store:
            runs = store.detail(1).runs
        return next((r.pid for r in runs if r.outcome == "running" and r.pid), None)

    async def answer(query: str) -> str:
        toast: str = await until(lambda: tg.toasts.get(query))
        return toast

    async def scenario(_platform: TelegramPlatform) -> None:
        tg.say(ALICE, ALICE, "/profile ops Push it")
        with dispatcher(*FAST, "--lease", "30"):
            old = await until(lambda: first(tg, "card 1 wants to run:"))
            os.kill(await until(worker), signal.SIGKILL)  # reclaimed; run 2 asks again
            new = await until(lambda: [s for s in tg.sent if s.texts[0] == old.texts[0]][1:])
            for sent in (old, new[0]):
                query = tg.press(sent.id, ALICE, "Approve")
                toasts.append(await answer(query))
            await until(lambda: first(tg, "card 1 done"))

    run(db_url, tg, scenario)
    assert "run 1, which has ended; this answer no longer applies" in toasts[0]
    assert toasts[1] == "card 1: approved"
    with open_store(db_url) as store:
        assert [r.outcome for r in store.detail(1).runs] == ["reclaimed", "done"]


def test_errors_become_delivery_errors_and_edits_replace_buttons(tg: FakeTelegram) -> None:
    async def main() -> None:
        platform = bot(tg)
        buttons = (Button("Approve", "hermes:approve:1:1"),)
        sent = await platform.send(str(ALICE), Outgoing("wants to run", buttons))
        await platform.edit(str(ALICE), sent, Outgoing("approved"))
        await platform.edit(str(ALICE), sent, Outgoing("approved"))  # again: nothing to do
        failures = []
        for status, retry_after in ((429, 3), (500, None), (403, None)):
            tg.fail(1, status, retry_after)
            with pytest.raises(DeliveryError) as caught:
                await platform.send(str(ALICE), Outgoing("x"))
            failures.append((caught.value.retry_after, caught.value.permanent))
        with pytest.raises(DeliveryError) as gone:
            await platform.edit(str(ALICE), "9999", Outgoing("x"))
        assert gone.value.permanent and "message to edit not found" in str(gone.value).lower()
        assert failures == [(3.0, False), (None, False), (None, True)]
        assert tg.token not in str(gone.value)

    asyncio.run(main())
    (sent,) = tg.sent
    assert sent.keyboards == [[("Approve", "hermes:approve:1:1")], []]
    assert sent.texts == ["wants to run", "approved"]


def test_a_refused_token_stops_the_platform_naming_its_variable(tg: FakeTelegram) -> None:
    platform = TelegramPlatform("999:wrong", token_env="MY_TG_TOKEN", api_base=tg.api_base)

    async def main() -> None:
        await platform.run(Nobody())

    with pytest.raises(TokenRefused) as refused:
        asyncio.run(main())
    assert "MY_TG_TOKEN" in str(refused.value) and "999:wrong" not in str(refused.value)
    assert refused.value.__cause__ is None and refused.value.__suppress_context__
    assert not platform.connected


def test_connected_follows_the_connection() -> None:
    down = FakeTelegram().__enter__()
    platform = TelegramPlatform(down.token, api_base=down.api_base, poll_seconds=1)

    async def main() -> None:
        task = asyncio.create_task(platform.run(Nobody()))
        await until(lambda: platform.connected)
        await asyncio.to_thread(down.__exit__)
        await until(lambda: not platform.connected, timeout=10)
        assert not task.done()  # it waits for Telegram to come back
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    assert not platform.connected
    asyncio.run(main())


def test_made_from_settings_with_its_token_from_the_environment(
    tg: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_TG_TOKEN", tg.token)
    section = SimpleNamespace(token_env="MY_TG_TOKEN", api_base=tg.api_base, allow=[ALICE])
    platform = make_platform("telegram", section)
    assert platform.name == "telegram" and not platform.connected
    assert plain("@all " + "x" * 5000).startswith("@\u2060all x") and len(plain("x" * 5000)) == 4096


def test_a_gateway_killed_before_its_send_was_answered_sends_it_after_restart(
    db_url: str, hermes_home: Path, tg: FakeTelegram, tmp_path: Path
) -> None:
    hermes_home.mkdir(parents=True, exist_ok=True)
    (hermes_home / "config.yaml").write_text(
        "gateway:\n  telegram:\n    token_env: TELEGRAM_BOT_TOKEN\n"
        f"    api_base: {tg.api_base}\n    allow: [{ALICE}]\n    profile: shell\n"
    )
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": tg.token}

    def gateway(log: str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "hermes", "gateway", "start", "--platform", "telegram"]
        with open(tmp_path / log, "wb") as out:
            return subprocess.Popen(
                command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def polls() -> int:
        return sum(method == "getUpdates" for method, _ in tg.requests)

    first_gateway = gateway("first.log")
    try:
        wait_until(polls, timeout=60)
        tg.say(ALICE, ALICE, "echo survived")
        wait_until(lambda: tg.texts(ALICE), timeout=30)
        tg.stall(1)  # the next message is taken but never answered
        with dispatcher(*FAST), open_store(db_url) as store:
            wait_until(lambda: len(tg.texts(ALICE)) == 2, timeout=60)
            os.killpg(first_gateway.pid, signal.SIGKILL)
            first_gateway.wait(10)
            wait_until(lambda: store.card(1).status == "done", timeout=60)
    finally:
        if first_gateway.poll() is None:
            os.killpg(first_gateway.pid, signal.SIGKILL)
            first_gateway.wait(10)
    seen = polls()
    second_gateway = gateway("second.log")
    try:
        wait_until(lambda: polls() > seen, timeout=60)
        wait_until(lambda: any("done" in t for t in tg.texts(ALICE)), timeout=60)
    finally:
        second_gateway.send_signal(signal.SIGTERM)
        code = second_gateway.wait(20)
    assert code == 0, (tmp_path / "second.log").read_text()
    texts = tg.texts(ALICE)
    assert [t.split(":")[0] for t in texts] == [
        "card 1",
        "card 1 running",
        "card 1 running",  # sent once more: the first gateway never heard it arrived
        "card 1 done",
    ]
    assert tg.sent[-1].reply_to == tg.sent[2].id
    with open_store(db_url) as store:
        (sub,) = store.subscriptions()
        assert sub.closed_at is not None and sub.failures == 0
