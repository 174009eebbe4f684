"""The scripted model server speaks the chat completions API well enough for real clients."""

from __future__ import annotations

import json
import urllib.request

import openai
import pytest

from workers.agent.fake_openai import FakeOpenAI

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "shell",
            "description": "run",
            "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
        },
    }
]


def client(server: FakeOpenAI) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key="test", max_retries=0)


def test_plain_reply_with_tool_calls_and_usage() -> None:
    script = [
        {
            "text": "on it",
            "tool_calls": [{"name": "shell", "arguments": {"command": "ls"}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 3},
        }
    ]
    with FakeOpenAI(script) as server:
        reply = client(server).chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "hi"}],
            tools=TOOLS,  # type: ignore[arg-type]
        )
    message = reply.choices[0].message
    assert message.content == "on it"
    assert message.tool_calls and message.tool_calls[0].function.name == "shell"  # type: ignore[union-attr]
    assert json.loads(message.tool_calls[0].function.arguments) == {"command": "ls"}  # type: ignore[union-attr]
    assert reply.usage is not None and (
        reply.usage.prompt_tokens,
        reply.usage.completion_tokens,
    ) == (10, 3)
    assert server.requests[0]["tools"] == TOOLS


def test_streamed_reply_rebuilds_to_the_same_message() -> None:
    script = [
        {"text": "two words", "tool_calls": [{"name": "shell", "arguments": {"command": "pwd"}}]}
    ]
    with FakeOpenAI(script) as server:
        stream = client(server).chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    args = "".join(
        call.function.arguments or ""
        for c in chunks
        if c.choices and c.choices[0].delta.tool_calls
        for call in c.choices[0].delta.tool_calls
        if call.function  # type: ignore[union-attr]
    )
    assert text == "two words"
    assert json.loads(args) == {"command": "pwd"}
    assert chunks[-1].usage is not None


def test_replies_are_routed_by_when_and_used_once() -> None:
    script = [{"when": "card B", "text": "for B"}, {"when": "card A", "text": "for A"}]
    with FakeOpenAI(script) as server:

        def ask(text: str) -> str | None:
            messages = [{"role": "user", "content": text}]
            reply = client(server).chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
            return reply.choices[0].message.content

        assert ask("this is card A") == "for A"
        assert ask("this is card B") == "for B"
        with pytest.raises(openai.InternalServerError):
            ask("card A again")  # the script is spent
        with urllib.request.urlopen(server.url + "/requests") as response:
            assert len(json.loads(response.read())) == 3


def test_scripted_errors_and_delays() -> None:
    with FakeOpenAI([{"status": 429, "text": "slow down"}]) as server:
        with pytest.raises(openai.RateLimitError, match="slow down"):
            client(server).chat.completions.create(
                model="m", messages=[{"role": "user", "content": "x"}]
            )
