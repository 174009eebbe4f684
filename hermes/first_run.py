"""`hermes init`: choose the model agents use, name the variable that holds its key, and
check the key with one tiny request, before the first card finds out the hard way.

The choice goes to `config.yaml`'s `defaults` (the other settings are kept), so every
agent profile that does not name its own model uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hermes.config import ENV_NAME, update_settings
from hermes.errors import InvalidInput

DEFAULT_MODEL = "openai/gpt-4o-mini"
#: The variable a provider's key usually lives in, by the model's provider prefix.
KEY_VARIABLES = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "vertex_ai": "GOOGLE_APPLICATION_CREDENTIALS",
    "mistral": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "xai": "XAI_API_KEY",
    "together_ai": "TOGETHER_API_KEY",
    "cohere": "COHERE_API_KEY",
    "azure": "AZURE_API_KEY",
}


@dataclass(frozen=True, slots=True)
class Choice:
    """What agents will use: a litellm model, its key's variable, an optional server."""

    model: str
    api_key_env: str | None
    api_base: str | None


def key_variable(model: str) -> str | None:
    """The usual variable for the model's provider (None: a local model needs none)."""
    provider = model.split("/", 1)[0] if "/" in model else "openai"
    if provider in ("ollama", "ollama_chat", "lm_studio", "llamafile"):
        return None
    return KEY_VARIABLES.get(provider, f"{provider.upper()}_API_KEY")


def ask(question: Callable[[str, str], str]) -> Choice:
    """Ask a person, offering defaults; `question(prompt, default)` returns the answer."""
    model = question("Model (a litellm model name)", DEFAULT_MODEL).strip() or DEFAULT_MODEL
    api_base = question("Server URL (empty: the provider's own)", "").strip() or None
    suggested = key_variable(model) or ""
    key_env = question("Variable holding the API key (empty: none)", suggested).strip() or None
    return Choice(model, key_env, api_base)


def check(choice: Choice) -> str:
    """One tiny request with the key; what the model said (a ModelError says what went
    wrong, with the fix)."""
    from profiles.model import Profile
    from workers.agent.messages import Message
    from workers.agent.model import ModelClient

    profile = Profile(
        name="init", model=choice.model, api_base=choice.api_base, api_key_env=choice.api_key_env
    )
    reply = ModelClient(profile).complete(
        [Message("user", "Reply with the word OK and nothing else.")], [], lambda _text: None
    )
    return (reply.message.text or "").strip()[:80]


def save(path: Path, choice: Choice) -> None:
    """Write the choice into `path`'s `defaults`, keeping every other setting."""
    if choice.api_key_env is not None and not _is_env_name(choice.api_key_env):
        raise InvalidInput(
            f"{choice.api_key_env!r} is not a variable name: give the name of the variable "
            "that holds the key (e.g. OPENAI_API_KEY), never the key itself"
        )
    given = {"model": choice.model, "api_base": choice.api_base, "api_key_env": choice.api_key_env}

    def set_defaults(settings: dict[str, Any]) -> bool:
        settings["defaults"] = {k: v for k, v in given.items() if v is not None}
        return True

    update_settings(path, set_defaults)


def _is_env_name(name: str) -> bool:
    import re

    return re.fullmatch(ENV_NAME, name) is not None
