"""The conversation and the notifier on a real board, with a real dispatcher working the
cards, through a chat platform kept in memory (the adapters' own tests drive the real
client libraries against fake platform servers)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from board import open_store
from board.clock import utcnow
from gateway.chat.platform import DeliveryError, Incoming, Press
from gateway.chat.service import serve
from tests.helpers.agents import KEY_ENV, agent_profile, call, tool_results
from tests.helpers.agents import serve as serve_model
from tests.helpers.chat import MemoryPlatform
from tests.helpers.processes import FAST, dispatcher
from workers.agent.fake_openai import FakeOpenAI

ALICE, MALLORY = "111", "666"
SECTION = SimpleNamespace(allow=[int(ALICE)], profile="shell", repo=None)


def message(text: str, message_id: str, user: str = ALICE, **extra: Any) -> Incoming:
    return Incoming(chat="chat-1", user=user, message=message_id, text=text, direct=True, **extra)


async def until(check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {check}")
        await asyncio.sleep(0.05)
    return found


def run(db_url: str, platform: MemoryPlatform, scenario: Callable[[], Awaitable[None]]) -> None:
    async def main() -> None:
        service = asyncio.create_task(serve(platform, SECTION, db_url))
        try:
            await scenario()
        finally:
            service.cancel()
            (ended,) = await asyncio.gather(service, return_exceptions=True)
            if isinstance(ended, Exception):  # it died: say why, not only that it timed out
                raise ended

    asyncio.run(main())


def test_a_message_becomes_a_card_and_the_chat_hears_how_it_went(
    db_url: str, hermes_home: Path
) -> None:
    platform = MemoryPlatform()

    async def scenario() -> None:
        await platform.inbox.put(message("echo hello from chat", "m1"))
        await until(lambda: platform.texts("chat-1"))
        await platform.inbox.put(message("echo hello from chat", "m1"))  # delivered again
        await until(lambda: len(platform.texts("chat-1")) == 2)
        with dispatcher(*FAST):
            await until(lambda: any("done" in t for t in platform.texts("chat-1")))

    run(db_url, platform, scenario)
    texts = platform.texts("chat-1")
    assert texts[0].startswith("card 1: echo hello from chat\nI'll tell you when it starts")
    assert texts[1].startswith("card 1: echo hello from chat (already on the board)")
    assert texts[2] == "card 1 running: echo hello from chat"  # the status message
    assert texts[3].startswith("card 1 done: echo hello from chat\nhello from chat")
    with open_store(db_url) as store:
        card = store.card(1)
        assert (card.source, card.key) == ("memchat:chat-1", "memchat:chat-1:m1")
        assert store.stats(utcnow())["cards"] == 1
        (sub,) = store.subscriptions()
        assert sub.closed_at is not None


def test_strangers_are_told_once_and_create_nothing(db_url: str) -> None:
    platform = MemoryPlatform()

    async def scenario() -> None:
        await platform.inbox.put(message("echo hi", "m1", user=MALLORY))
        await until(lambda: platform.texts("chat-1"))
        await platform.inbox.put(message("echo again", "m2", user=MALLORY))
        await platform.inbox.put(Press("chat-1", MALLORY, "1000", "hermes:approve:1:1"))
        await until(lambda: platform.toasts)

    run(db_url, platform, scenario)
    assert platform.texts("chat-1") == [
        "You are not on this bot's allow list. Your memchat id is 666; whoever runs hermes "
        "can allow you with: hermes gateway allow memchat 666"
    ]
    assert platform.toasts == ["you are not on this bot's allow list"]
    with open_store(db_url) as store:
        assert store.stats(utcnow())["cards"] == 0


def test_a_failing_platform_gets_every_message_in_order_once_it_recovers(db_url: str) -> None:
    platform = MemoryPlatform()

    async def scenario() -> None:
        await platform.inbox.put(message("echo one", "m1"))
        await until(lambda: platform.texts("chat-1"))
        platform.refuse = [
            DeliveryError("500 from the platform"),
            DeliveryError("rate limited", retry_after=0.3),
        ]
        with dispatcher(*FAST):
            await until(lambda: any("done" in t for t in platform.texts("chat-1")), timeout=30)

    run(db_url, platform, scenario)
    texts = platform.texts("chat-1")
    assert [t.split(":")[0] for t in texts] == ["card 1", "card 1 running", "card 1 done"]
    with open_store(db_url) as store:
        (sub,) = store.subscriptions()
        assert sub.failures == 0 and sub.last_error is None


def test_approvals_questions_and_comments_from_the_chat(
    db_url: str, hermes_home: Path, model: list[FakeOpenAI], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")
    server = serve_model(
        model,
        [
            {"tool_calls": [call("shell", command="git push --force origin main")]},
            {"when": "exit code", "tool_calls": [call("ask_human", question="eu or us?")]},
            {"when": "eu-west", "text": "Deployed to eu-west."},
        ],
    )
    agent_profile(hermes_home, "ops", server.url, backend="local", approvals="ask")
    platform = MemoryPlatform()

    def find(prefix: str) -> Any:
        return next((s for s in platform.sent if s.text.startswith(prefix)), None)

    async def scenario() -> None:
        await platform.inbox.put(message("/profile ops Deploy the site", "m1"))
        with dispatcher(*FAST, "--lease", "30"):
            asked = await until(lambda: find("card 1 wants to run:"))
            assert "git push --force origin main" in asked.text and "high risk" in asked.text
            approve = next(b for b in asked.message.buttons if b.label == "Approve")
            await platform.inbox.put(Press("chat-1", ALICE, asked.id, approve.data))
            question = await until(lambda: find("card 1 asks: eu or us?"))
            status = find("card 1 running")
            await platform.inbox.put(message("keep going", "m2", reply_to=status.id))
            await until(lambda: find("card 1: noted"))
            await platform.inbox.put(message("eu-west", "m3", reply_to=question.id))
            await until(lambda: find("card 1 done"))
            stale = Press("chat-1", ALICE, asked.id, approve.data)
            await platform.inbox.put(stale)
            await until(lambda: len(platform.toasts) == 2)

    run(db_url, platform, scenario)
    assert platform.toasts[0] == "card 1: approved"
    assert "no longer" in platform.toasts[1] or "not waiting" in platform.toasts[1]
    asked = next(s for s in platform.sent if s.message.text.startswith("card 1 wants to run:"))
    assert asked.text == "card 1: approved (memchat)" and not asked.edits[-1].buttons
    assert find("card 1 done").text.startswith("card 1 done: Deploy the site\nDeployed to eu-west.")
    with open_store(db_url) as store:
        events = store.detail(1).events
    comment = next(e for e in events if e.kind == "comment")
    assert (comment.actor, comment.data["text"]) == ("memchat:111", "keep going")
    assert [e.actor for e in events if e.kind in ("approved", "answered")] == [
        "memchat:111",
        "memchat:111",
    ]
    assert tool_results(server.requests[-1])[-1] == "eu-west"


def test_the_notifier_outlives_a_quiet_board(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Waiting for the board's next change with a timeout must not end the wait for good."""
    monkeypatch.setattr("gateway.chat.notifier.IDLE_CHECK", 0.1)
    platform = MemoryPlatform()

    async def scenario() -> None:
        await asyncio.sleep(1.0)  # ten idle checks with nothing happening
        await platform.inbox.put(message("echo still here", "m1"))
        with dispatcher(*FAST):
            await until(lambda: any("done" in t for t in platform.texts("chat-1")))

    run(db_url, platform, scenario)
    assert platform.texts("chat-1")[-1].startswith("card 1 done: echo still here")
