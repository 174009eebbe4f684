"""A scripted OpenAI-compatible chat server on loopback, for tests and benchmarks.

It speaks enough of the chat completions API (plain and streamed, with tool calls and
usage) for the real `litellm`/`openai` clients to talk to it through a profile's
`api_base`. Replies come from a script, in order; a reply with `when` is used only for a
request whose messages contain that text, so parallel cards can be scripted apart:

    {"replies": [
      {"when": "card title", "text": "optional words",
       "tool_calls": [{"name": "write_file", "arguments": {"path": "a.txt", "content": "x"}}],
       "usage": {"prompt_tokens": 120, "completion_tokens": 30}, "delay": 0.0, "status": 200},
      {"text": "the final answer"}
    ]}

Every request is recorded (`GET /requests`, or `.requests` in process). Run it alone with
`python -m workers.agent.fake_openai SCRIPT.json [--port N]`.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class Script:
    """Scripted replies, each used once, chosen by the first matching `when`."""

    def __init__(self, replies: list[dict[str, Any]]) -> None:
        self._replies = list(replies)
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []

    def next_for(self, request: dict[str, Any]) -> dict[str, Any] | None:
        text = json.dumps(request.get("messages", []), ensure_ascii=False)
        with self._lock:
            self.requests.append({**request, "received_at": time.time()})
            for index, reply in enumerate(self._replies):
                if reply.get("when") is None or reply["when"] in text:
                    return self._replies.pop(index)
        return None


def _message(reply: dict[str, Any]) -> dict[str, Any]:
    calls = [
        {
            "id": f"call_{n}_{abs(hash(json.dumps(call, sort_keys=True))) % 10**8}",
            "type": "function",
            "function": {"name": call["name"], "arguments": _arguments(call)},
        }
        for n, call in enumerate(reply.get("tool_calls", []))
    ]
    message: dict[str, Any] = {"role": "assistant", "content": reply.get("text")}
    if calls:
        message["tool_calls"] = calls
    return message


def _arguments(call: dict[str, Any]) -> str:
    args = call.get("arguments", {})
    return args if isinstance(args, str) else json.dumps(args)


def _usage(reply: dict[str, Any], request: dict[str, Any]) -> dict[str, int]:
    given = reply.get("usage", {})
    prompt = given.get("prompt_tokens", len(json.dumps(request.get("messages", []))) // 4)
    completion = given.get("completion_tokens", len(json.dumps(_message(reply))) // 4)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _chunks(reply: dict[str, Any], request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    base = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": request.get("model", "fake"),
    }
    message = _message(reply)
    if message.get("content"):
        for n, word in enumerate(str(message["content"]).split(" ")):
            text = {"role": "assistant", "content": word if n == 0 else " " + word}
            yield {**base, "choices": [{"index": 0, "delta": text, "finish_reason": None}]}
    for index, call in enumerate(message.get("tool_calls", [])):
        head = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        body = {"index": index, "function": {"arguments": call["function"]["arguments"]}}
        for part in (head, body):
            delta: dict[str, Any] = {"tool_calls": [part]}
            yield {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    finish = "tool_calls" if message.get("tool_calls") else "stop"
    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
    if (request.get("stream_options") or {}).get("include_usage"):
        yield {**base, "choices": [], "usage": _usage(reply, request)}


class _Handler(BaseHTTPRequestHandler):
    script: Script

    def log_message(self, *_args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/requests"):
            self._json(200, self.script.requests)
        elif self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        request = json.loads(self.rfile.read(length) or b"{}")
        reply = self.script.next_for(request)
        if reply is None:
            self._json(500, {"error": {"message": "the script has no reply for this request"}})
            return
        time.sleep(float(reply.get("delay", 0)))
        if int(reply.get("status", 200)) != 200:
            self._json(int(reply["status"]), {"error": {"message": reply.get("text", "error")}})
            return
        if request.get("stream"):
            self._stream(reply, request)
            return
        self._json(
            200,
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request.get("model", "fake"),
                "choices": [
                    {
                        "index": 0,
                        "message": _message(reply),
                        "finish_reason": "tool_calls" if reply.get("tool_calls") else "stop",
                    }
                ],
                "usage": _usage(reply, request),
            },
        )

    def _stream(self, reply: dict[str, Any], request: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for chunk in _chunks(reply, request):
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def _json(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeOpenAI:
    """The server in a background thread: `url` is the `api_base` to give a profile."""

    def __init__(self, replies: list[dict[str, Any]], port: int = 0) -> None:
        self.script = Script(replies)
        handler = type("Handler", (_Handler,), {"script": self.script})
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request received so far, oldest first."""
        return list(self.script.requests)

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def main() -> None:
    """Serve a script file until interrupted."""
    parser = argparse.ArgumentParser(description="A scripted OpenAI-compatible chat server.")
    parser.add_argument("script", type=Path, help="JSON file with a `replies` list")
    parser.add_argument("--port", type=int, default=0)
    opts = parser.parse_args()
    replies = json.loads(opts.script.read_text(encoding="utf-8"))["replies"]
    with FakeOpenAI(replies, opts.port) as server:
        print(f"listening on {server.url}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
