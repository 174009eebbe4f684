"""The chat platforms hermes speaks, made from their `gateway.<name>` settings.

Each adapter lives in its own module over its own client library (the `gateway` extra);
they are imported only when that platform is started, so `pip install .` without the
extra works, and starting a platform without it says what to install.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import Any

from gateway.chat.platform import Platform
from hermes.errors import HermesError

EXTRA = "pip install 'hermes-board[gateway]'"


class GatewayUnavailable(HermesError):
    """A platform cannot be started here (its library or its token is missing)."""

    exit_code = 2


def make_platform(name: str, section: Any) -> Platform:
    """The adapter for platform `name`, with its token read from the environment."""
    try:
        module = import_module(f"gateway.chat.{name}")
    except ImportError as exc:
        raise GatewayUnavailable(
            f"the {name} adapter needs its client library ({exc.name}); install the "
            f"gateway extra: {EXTRA}"
        ) from exc
    platform: Platform = module.from_settings(section, token)
    return platform


def token(variable: str) -> str:
    """A token from the environment, or an error naming the variable (never a value)."""
    value = os.environ.get(variable, "")
    if not value:
        raise GatewayUnavailable(f"set {variable} to the bot's token (see docs/gateway.md)")
    return value
