"""The one module that talks to litellm: model calls in, hermes messages out.

litellm is imported lazily (about four seconds, so agent workers are forked from a
template that has already paid it) and only after two settings: a local price list (by
default litellm downloads one on import, which hangs where the network is filtered) and
production mode (otherwise it loads `./.env` from the working directory). Provider
objects are converted here into `workers.agent.messages` types. Replies are streamed so
the model's words reach the run log as they come.

`HERMES_MODEL_HOSTS=loopback` (set by the test suite) refuses any `api_base` that is not
on this machine: no test can reach a real provider.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib import import_module
from typing import Any
from urllib.parse import urlparse

from hermes.errors import HermesError
from profiles import Profile
from workers.agent.messages import Message, Reply, ToolCall, ToolSpec

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
REQUEST_TIMEOUT = 300.0


class ModelError(HermesError):
    """The model could not be called: a missing key, a refused host, a provider error.

    Retryable unless told otherwise: a provider's outage or rate limit may pass; a
    missing key, a wrong key, an unknown model or a request the provider refuses will
    not."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


#: Provider answers that mean the request itself is wrong: trying again cannot help.
PERMANENT_STATUS = frozenset({400, 401, 403, 404, 422})


def import_litellm() -> Any:
    """litellm, configured to stay offline and ignore `.env` files."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_MODE", "PRODUCTION")
    import litellm

    litellm.suppress_debug_info = True
    return litellm


def warm_up() -> None:
    """Pay litellm's first-call costs once, in the worker template, not in every worker.

    After its import, litellm still loads a lot on its first call: the OpenAI SDK's
    resource modules, tiktoken's encoding (for usage and cost), parts of its own proxy
    types, its MCP tool handling (a call with tools imports the `mcp` SDK, 1.5 s),
    httpcore, and the pydantic models of its responses, built on first use.
    Loading them here makes a forked worker's first model call take tens of
    milliseconds instead of a second. Nothing here may start a thread: threads do not
    survive the fork (litellm's own logging threads would leave every worker waiting on
    a dead one), so no completion is made, not even a mock one.
    """
    import httpcore  # noqa: F401
    import openai.resources  # noqa: F401

    litellm = import_litellm()
    for lazy in (
        "litellm.proxy.openai_files_endpoints.common_utils",
        "litellm.responses.mcp.chat_completions_handler",  # with tools; loads `mcp` if present
    ):
        try:
            import_module(lazy)
        except ImportError:  # an optional part litellm copes without
            pass
    from litellm.types.utils import ModelResponse, ModelResponseStream

    litellm.token_counter(model="gpt-4o-mini", messages=[{"role": "user", "content": "warm"}])
    ModelResponse()
    ModelResponseStream()


class ModelClient:
    """Calls one profile's model; checks its key and host before the first request."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.model = profile.model or ""
        self._key = self._api_key()
        self._check_host()
        self._litellm = import_litellm()

    def _api_key(self) -> str:
        env = self.profile.api_key_env
        if env is None:
            return "not-needed"  # a local server that takes no key
        key = os.environ.get(env)
        if not key:
            raise ModelError(
                f"set {env} (profile {self.profile.name!r}, model {self.model})", retryable=False
            )
        return key

    def _check_host(self) -> None:
        if os.environ.get("HERMES_MODEL_HOSTS") != "loopback":
            return
        host = urlparse(self.profile.api_base or "").hostname
        if host not in LOOPBACK:
            target = self.profile.api_base or f"the provider of {self.model}"
            raise ModelError(
                f"model requests are limited to this machine (HERMES_MODEL_HOSTS=loopback), "
                f"but profile {self.profile.name!r} would call {target}",
                retryable=False,
            )

    def complete(
        self,
        messages: list[Message],
        tools: list[ToolSpec],
        on_text: Callable[[str], None],
        *,
        force_tool: str | None = None,
    ) -> Reply:
        """One model call, streamed: `on_text` gets the words as they arrive.

        `force_tool` names a tool the model must call (a judge's verdict, say).
        """
        wire = [_to_wire(m) for m in messages]
        extra: dict[str, Any] = {}
        if force_tool is not None:
            extra["tool_choice"] = {"type": "function", "function": {"name": force_tool}}
        try:
            stream = self._litellm.completion(
                model=self.model,
                messages=wire,
                tools=[_tool(t) for t in tools] or None,
                api_base=self.profile.api_base,
                api_key=self._key,
                stream=True,
                stream_options={"include_usage": True},
                timeout=REQUEST_TIMEOUT,
                **extra,
            )
            chunks = []
            for chunk in stream:
                chunks.append(chunk)
                delta = chunk.choices[0].delta if chunk.choices else None
                if delta is not None and getattr(delta, "content", None):
                    on_text(delta.content)
            response = self._litellm.stream_chunk_builder(chunks, messages=wire)
        except HermesError:
            raise
        except Exception as exc:  # provider errors come in many types; all end the call
            raise self._error(exc) from exc
        return self._reply(response)

    def _error(self, exc: Exception) -> ModelError:
        """The provider's error, said with its fix where there is one, and whether trying
        again could help."""
        status = getattr(exc, "status_code", None)
        if "LLM Provider NOT provided" in str(exc):
            return ModelError(
                f"model {self.model!r} names no provider: write PROVIDER/NAME in the profile, "
                f"e.g. openai/{self.model} for an OpenAI-compatible server (profile "
                f"{self.profile.name!r})",
                retryable=False,
            )
        permanent = status in PERMANENT_STATUS
        fix = ""
        if status in (401, 403):
            fix = f"; check the key in {self.profile.api_key_env} (profile {self.profile.name!r})"
        elif status == 404:
            fix = f"; check `model` (and `api_base`) in profile {self.profile.name!r}"
        return ModelError(
            f"model call failed ({self.model}): {_short(exc)}{fix}", retryable=not permanent
        )

    def _reply(self, response: Any) -> Reply:
        message = response.choices[0].message
        calls = tuple(
            ToolCall(call.id, call.function.name, call.function.arguments or "{}")
            for call in (message.tool_calls or [])
        )
        usage = response.usage
        try:
            cost = float(self._litellm.completion_cost(completion_response=response))
        except Exception:  # the model's price is not known: the cost stays unknown
            cost = None
        return Reply(
            Message("assistant", message.content or None, calls),
            int(getattr(usage, "prompt_tokens", 0) or 0),
            int(getattr(usage, "completion_tokens", 0) or 0),
            cost,
        )

    def count_tokens(self, messages: list[Message], tools: list[ToolSpec]) -> int:
        """How many prompt tokens `messages` and the tool schemas take for this model."""
        wire = [_to_wire(m) for m in messages]
        return int(
            self._litellm.token_counter(
                model=self.model, messages=wire, tools=[_tool(t) for t in tools]
            )
        )


def _to_wire(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.call_id, "content": message.text or ""}
    out: dict[str, Any] = {"role": message.role, "content": message.text}
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    return out


def _tool(spec: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": spec.description,
            "parameters": spec.parameters,
        },
    }


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:400]}"


__all__ = ["ModelClient", "ModelError", "import_litellm", "warm_up"]
