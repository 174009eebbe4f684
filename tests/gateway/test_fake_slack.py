"""The fake Slack itself, spoken to with plain HTTP and websocket requests: what the
adapter's tests rely on it to do."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from tests.gateway.fake_slack import FakeSlack

BOT = {"Authorization": "Bearer xoxb-fake"}
APP = {"Authorization": "Bearer xapp-fake"}


def run(scenario: Callable[[FakeSlack, aiohttp.ClientSession], Awaitable[None]]) -> FakeSlack:
    async def main(slack: FakeSlack) -> None:
        async with aiohttp.ClientSession() as http:
            await scenario(slack, http)

    with FakeSlack() as slack:
        asyncio.run(main(slack))
    return slack


async def call(
    http: aiohttp.ClientSession, slack: FakeSlack, method: str, headers: dict[str, str], **body: Any
) -> tuple[int, dict[str, Any], Any]:
    async with http.post(slack.url + method, json=body, headers=headers) as response:
        if response.content_type != "application/json":
            return response.status, {}, response.headers
        return response.status, await response.json(), response.headers


@asynccontextmanager
async def socket(
    slack: FakeSlack, http: aiohttp.ClientSession
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    _, opened, _ = await call(http, slack, "apps.connections.open", APP)
    assert opened["ok"] and opened["url"].startswith("ws://127.0.0.1:")
    async with http.ws_connect(opened["url"]) as ws:
        yield ws


async def frame(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.receive(), 5)
    assert message.type == aiohttp.WSMsgType.TEXT
    decoded: dict[str, Any] = json.loads(message.data)
    return decoded


def test_the_web_api_checks_tokens_and_records_posts_and_edits() -> None:
    async def scenario(slack: FakeSlack, http: aiohttp.ClientSession) -> None:
        status, body, _ = await call(http, slack, "auth.test", BOT)
        assert (status, body["ok"], body["user_id"]) == (200, True, slack.bot_user)
        _, body, _ = await call(http, slack, "auth.test", APP)
        assert body == {"ok": False, "error": "invalid_auth"}
        _, body, _ = await call(http, slack, "apps.connections.open", BOT)
        assert body["error"] == "invalid_auth"  # the socket needs the app-level token
        blocks = [{"type": "actions", "elements": [{"type": "button", "value": "v"}]}]
        _, posted, _ = await call(
            http, slack, "chat.postMessage", BOT, channel="D1", text="hi", blocks=blocks
        )
        _, reply, _ = await call(
            http, slack, "chat.postMessage", BOT, channel="D1", text="re", thread_ts=posted["ts"]
        )
        assert float(reply["ts"]) > float(posted["ts"])
        _, body, _ = await call(
            http, slack, "chat.update", BOT, channel="D1", ts=posted["ts"], text="new", blocks=[]
        )
        assert body["ok"]
        _, body, _ = await call(http, slack, "chat.update", BOT, channel="D1", ts="1.2", text="x")
        assert body["error"] == "message_not_found"

    slack = run(scenario)
    first, second = slack.posted
    assert (first.text, first.current["text"], first.buttons) == ("hi", "new", [])
    assert [e["value"] for e in first.blocks[0]["elements"]] == ["v"]
    assert (second.thread_ts, slack.texts("D1")) == (first.ts, ["new", "re"])


def test_failures_and_rate_limits_come_in_the_order_asked() -> None:
    async def scenario(slack: FakeSlack, http: aiohttp.ClientSession) -> None:
        slack.fail(1)
        slack.fail(1, status=429, retry_after=2.5)
        status, _, _ = await call(http, slack, "chat.postMessage", BOT, channel="D1", text="a")
        assert status == 500
        status, body, headers = await call(
            http, slack, "chat.postMessage", BOT, channel="D1", text="a"
        )
        assert (status, body["error"], headers["Retry-After"]) == (429, "ratelimited", "2.5")
        status, body, _ = await call(http, slack, "chat.postMessage", BOT, channel="D1", text="a")
        assert (status, body["ok"]) == (200, True)

    assert run(scenario).texts("D1") == ["a"]


def test_a_held_send_is_never_answered() -> None:
    async def scenario(slack: FakeSlack, http: aiohttp.ClientSession) -> None:
        slack.holds = 1
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(
                call(http, slack, "chat.postMessage", BOT, channel="D1", text="held"), 0.5
            )
        _, body, _ = await call(http, slack, "chat.postMessage", BOT, channel="D1", text="next")
        assert body["ok"]

    slack = run(scenario)
    assert [h["text"] for h in slack.held] == ["held"] and slack.texts("D1") == ["next"]


def test_the_socket_says_hello_then_delivers_envelopes_that_are_acked() -> None:
    async def scenario(slack: FakeSlack, http: aiohttp.ClientSession) -> None:
        async with socket(slack, http) as ws:
            assert (await frame(ws))["type"] == "hello"
            assert slack.connected == 1
            ts = await asyncio.to_thread(slack.message, "D1", "U1", "hello &amp; bye")
            envelope = await frame(ws)
            event = envelope["payload"]["event"]
            assert (envelope["type"], event["type"], event["channel_type"]) == (
                "events_api",
                "message",
                "im",
            )
            assert (event["ts"], event["text"], event["user"]) == (ts, "hello &amp; bye", "U1")
            await ws.send_str(json.dumps({"envelope_id": envelope["envelope_id"]}))
            await asyncio.to_thread(slack.mention, "C1", "U1", "do it", thread_ts=ts)
            mention = (await frame(ws))["payload"]["event"]
            assert (mention["type"], mention["text"]) == (
                "app_mention",
                f"<@{slack.bot_user}> do it",
            )
            assert mention["thread_ts"] == ts
            for _ in range(50):
                if envelope["envelope_id"] in slack.acks:
                    break
                await asyncio.sleep(0.02)
            assert envelope["envelope_id"] in slack.acks

    run(scenario)


def test_a_press_carries_the_buttons_value_and_where_it_was() -> None:
    async def scenario(slack: FakeSlack, http: aiohttp.ClientSession) -> None:
        button: dict[str, Any] = {
            "type": "button",
            "action_id": "a-0",
            "value": "hermes:approve:1:1",
        }
        button["text"] = {"type": "plain_text", "text": "Approve"}
        blocks = [{"type": "actions", "elements": [button]}]
        await call(http, slack, "chat.postMessage", BOT, channel="D1", text="ok?", blocks=blocks)
        async with socket(slack, http) as ws:
            await frame(ws)
            await asyncio.to_thread(slack.press, "U1", slack.posted[0], "Approve")
            envelope = await frame(ws)
        payload = envelope["payload"]
        assert (envelope["type"], payload["type"]) == ("interactive", "block_actions")
        assert payload["actions"][0]["value"] == "hermes:approve:1:1"
        assert payload["container"]["message_ts"] == slack.posted[0].ts
        assert (payload["user"]["id"], payload["channel"]["id"]) == ("U1", "D1")

    run(scenario)


def test_drop_closes_the_connection() -> None:
    async def scenario(slack: FakeSlack, http: aiohttp.ClientSession) -> None:
        async with socket(slack, http) as ws:
            await frame(ws)
            await asyncio.to_thread(slack.drop)
            message = await asyncio.wait_for(ws.receive(), 5)
            assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert slack.connected == 0

    run(scenario)
