"""The fake Discord server itself, with plain HTTP and websocket requests: the adapter's
tests are only as good as the protocol it speaks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from tests.gateway.fake_discord import APP_ID, BOT_ID, TOKEN, FakeDiscord, rendered

AUTH = {"Authorization": f"Bot {TOKEN}"}
DM, ALICE, GUILD, CHANNEL = "200000000000000001", "100000000000000001", "300", "400"


def run(test: Callable[[FakeDiscord, aiohttp.ClientSession], Awaitable[None]]) -> None:
    async def main() -> None:
        with FakeDiscord() as fake:
            async with aiohttp.ClientSession() as http:
                await test(fake, http)

    asyncio.run(main())


@asynccontextmanager
async def identified(
    fake: FakeDiscord, http: aiohttp.ClientSession, token: str = TOKEN
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A gateway connection past HELLO, IDENTIFY and READY."""
    async with http.ws_connect(fake.gateway_url + "?v=10&encoding=json") as ws:
        hello = await ws.receive_json(timeout=5)
        assert hello == {"op": 10, "d": {"heartbeat_interval": 41250}}
        await ws.send_json({"op": 2, "d": {"token": token, "intents": 37377, "properties": {}}})
        yield ws


async def event(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    frame: dict[str, Any] = await ws.receive_json(timeout=5)
    return frame


def test_the_gateway_says_hello_identifies_beats_and_dispatches() -> None:
    async def test(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
        async with identified(fake, http) as ws:
            ready = await event(ws)
            assert (ready["op"], ready["t"]) == (0, "READY")
            assert ready["d"]["user"]["id"] == BOT_ID and ready["d"]["user"]["bot"] is True
            assert ready["d"]["resume_gateway_url"] == fake.gateway_url
            assert (fake.connected, fake.intents) == (1, 37377)
            await ws.send_json({"op": 1, "d": ready["s"]})
            assert await event(ws) == {"op": 11}
            dm = await asyncio.to_thread(fake.say, DM, ALICE, "echo hi")
            created = await event(ws)
            assert (created["t"], created["d"]["id"], created["d"]["content"]) == (
                "MESSAGE_CREATE", dm, "echo hi",
            )  # fmt: skip
            assert "guild_id" not in created["d"] and created["d"]["author"]["id"] == ALICE
            await asyncio.to_thread(fake.say, CHANNEL, ALICE, "do it", guild=GUILD, mention=True)
            mention = (await event(ws))["d"]
            assert mention["content"] == f"<@{BOT_ID}> do it" and mention["guild_id"] == GUILD
            assert [u["id"] for u in mention["mentions"]] == [BOT_ID]
            await asyncio.to_thread(fake.redeliver, dm)
            again = await event(ws)
            assert again["d"]["id"] == dm and again["s"] > created["s"]

    run(test)


def test_a_wrong_token_is_refused_on_the_gateway_and_over_rest() -> None:
    async def test(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
        async with identified(fake, http, token="wrong") as ws:
            closed = await ws.receive(timeout=5)
            assert closed.type is aiohttp.WSMsgType.CLOSE and closed.data == 4004
        assert fake.connected == 0
        async with http.get(fake.api_base + "/users/@me") as response:
            assert response.status == 401
        async with http.get(fake.api_base + "/users/@me", headers=AUTH) as response:
            assert (await response.json())["id"] == BOT_ID
            # discord.py reads a body as JSON only with exactly this content type
            assert response.headers["Content-Type"] == "application/json"
        async with http.get(fake.api_base + "/oauth2/applications/@me", headers=AUTH) as r:
            assert (await r.json())["id"] == APP_ID
        for path in ("/gateway", "/gateway/bot"):
            async with http.get(fake.api_base + path) as response:
                assert (await response.json())["url"] == fake.gateway_url

    run(test)


def test_messages_with_buttons_and_replies_are_recorded_and_edited() -> None:
    async def test(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
        asked = await asyncio.to_thread(fake.say, DM, ALICE, "hello")
        row = {"type": 1, "components": [{"type": 2, "style": 2, "label": "Approve",
                                          "custom_id": "hermes:approve:1:1"}]}  # fmt: skip
        body = {"content": "card 1 \\*wants\\*", "components": [row],
                "message_reference": {"message_id": asked, "channel_id": DM}}  # fmt: skip
        url = f"{fake.api_base}/channels/{DM}/messages"
        async with http.post(url, json=body, headers=AUTH) as response:
            sent = await response.json()
        assert sent["author"]["id"] == BOT_ID and sent["type"] == 19
        assert sent["referenced_message"]["id"] == asked and sent["components"] == [row]
        assert fake.sent[0]["message_reference"]["message_id"] == asked
        assert fake.texts(DM) == ["card 1 *wants*"] and rendered("a\\@b") == "a@b"
        edit = {"content": "card 1: approved", "components": []}
        async with http.patch(f"{url}/{sent['id']}", json=edit, headers=AUTH) as response:
            assert response.status == 200
        assert fake.messages[sent["id"]]["components"] == [] and fake.texts(DM) == [
            "card 1: approved"
        ]
        async with http.patch(f"{url}/{asked}", json=edit, headers=AUTH) as response:
            assert (response.status, (await response.json())["code"]) == (403, 50005)
        async with http.patch(f"{url}/123", json=edit, headers=AUTH) as response:
            assert (response.status, (await response.json())["code"]) == (404, 10008)
        fake.gone.add(DM)
        async with http.post(url, json=body, headers=AUTH) as response:
            assert (response.status, (await response.json())["code"]) == (404, 10003)

    run(test)


def test_sends_fail_on_demand_and_hang_until_released() -> None:
    async def test(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
        url = f"{fake.api_base}/channels/{DM}/messages"
        fake.fail_next(1, 500)
        fake.fail_next(1, 429, retry_after=1.5)
        async with http.post(url, json={"content": "a"}, headers=AUTH) as response:
            assert response.status == 500
        async with http.post(url, json={"content": "b"}, headers=AUTH) as response:
            assert response.status == 429 and response.headers["Via"]
            assert (await response.json())["retry_after"] == 1.5
        fake.hold()
        posting = asyncio.ensure_future(http.post(url, json={"content": "c"}, headers=AUTH))
        while not fake.sent:
            await asyncio.sleep(0.02)
        assert not posting.done() and fake.texts(DM) == ["c"]
        fake.release()
        async with await posting as response:
            assert response.status == 200

    run(test)


def test_presses_are_dispatched_and_their_answers_recorded() -> None:
    async def test(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
        async with identified(fake, http) as ws:
            await event(ws)  # READY
            url = f"{fake.api_base}/channels/{CHANNEL}/messages"
            async with http.post(url, json={"content": "approve?"}, headers=AUTH) as response:
                message = await response.json()
            iid = await asyncio.to_thread(fake.press, CHANNEL, ALICE, message["id"], "hermes:x")
            pressed = (await event(ws))["d"]
            assert pressed["type"] == 3 and pressed["data"]["custom_id"] == "hermes:x"
            assert pressed["message"]["id"] == message["id"] and pressed["user"]["id"] == ALICE
            answer = {"type": 4, "data": {"content": "card 1: approved", "flags": 64}}
            callback = f"{fake.api_base}/interactions/{iid}/{pressed['token']}/callback"
            async with http.post(callback, json=answer) as response:
                assert (await response.json())["interaction"]["id"] == iid
            assert fake.answers == [{"interaction": iid, **answer}]

    run(test)


def test_a_dropped_connection_can_resume() -> None:
    async def test(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
        async with identified(fake, http) as ws:
            await event(ws)
            await asyncio.to_thread(fake.drop)
            closed = await ws.receive(timeout=5)
            assert closed.type is aiohttp.WSMsgType.CLOSE and closed.data == 4000
        async with http.ws_connect(fake.gateway_url) as ws:
            await event(ws)  # HELLO
            await ws.send_json({"op": 6, "d": {"token": TOKEN, "session_id": "s1", "seq": 1}})
            assert (await event(ws))["t"] == "RESUMED" and fake.connected == 1

    run(test)
