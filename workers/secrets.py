"""Secrets kept out of card work, and masked in everything hermes writes.

Card work (a command card's body, an agent's shell commands, an external agent CLI) gets
the worker's environment minus every secret: the variables any profile names in
`api_key_env` or `secret_env`, the chat and HTTP tokens hermes knows of, and any
variable whose name says it is a secret (`*_API_KEY`, `*_TOKEN`, `*_SECRET`,
`*PASSWORD*`, ...). A profile's `env: [NAME]` passes a variable on purpose.

Whatever still shows a secret's value (a provider error echoing the key, a file the
work printed) is masked as `***` before it reaches a log, a transcript, the board or
the model: `Masker` does the replacing, `MaskedStream` does it on a byte stream whose
chunks may split a secret in two.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

MASK = "***"
#: Values shorter than this are not masked: masking "1" or "true" would garble output.
MIN_SECRET = 6
#: Secrets hermes itself uses (chat platforms, the HTTP server, model providers).
KNOWN_SECRETS = frozenset(
    {
        "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY",
        "MISTRAL_API_KEY", "GROQ_API_KEY", "OPENROUTER_API_KEY", "AZURE_API_KEY",
        "COHERE_API_KEY", "DEEPSEEK_API_KEY", "XAI_API_KEY", "TOGETHER_API_KEY",
        "HF_TOKEN", "HUGGINGFACE_API_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "GITHUB_TOKEN", "GH_TOKEN", "HERMES_TOKEN", "TELEGRAM_BOT_TOKEN",
        "DISCORD_BOT_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN",
    }
)  # fmt: skip
SECRET_NAME = re.compile(
    r"(?:^|_)(?:API_?KEY|KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASS|CREDENTIALS?|PRIVATE_KEY"
    r"|ACCESS_KEY|PAT|DSN|JWT|AUTH|COOKIE|SESSION)(?:_|$)|PASSWORD|SECRET",
    re.IGNORECASE,
)
#: A URL with a password in it (`postgresql://user:pass@host/db`).
URL_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:([^/\s@]+)@", re.IGNORECASE)


def secret_names(environ: Mapping[str, str], named: Iterable[str]) -> frozenset[str]:
    """Every variable of `environ` that is a secret: `named` ones (from profiles and
    settings), hermes' known ones, those whose name says so, and those whose value is a
    URL with a password in it."""
    named = set(named) | KNOWN_SECRETS
    return frozenset(
        n
        for n, value in environ.items()
        if n in named or SECRET_NAME.search(n) or URL_PASSWORD.search(value)
    )


def card_env(
    environ: Mapping[str, str], secrets: frozenset[str], passed: Iterable[str]
) -> dict[str, str]:
    """`environ` without the secrets, except those a profile passes on purpose."""
    keep = set(passed)
    return {k: v for k, v in environ.items() if k not in secrets or k in keep}


class Masker:
    """Replaces every secret value with `***` in text and bytes."""

    def __init__(self, values: Iterable[str]) -> None:
        found = {v for v in values if len(v) >= MIN_SECRET}
        self.values = sorted(found, key=len, reverse=True)  # longest first: no partials
        self._text = re.compile("|".join(map(re.escape, self.values))) if found else None
        raw = [v.encode() for v in self.values]
        self._bytes = re.compile(b"|".join(map(re.escape, raw))) if raw else None
        self.longest = max((len(v) for v in raw), default=0)

    @classmethod
    def of(cls, environ: Mapping[str, str], secrets: Iterable[str]) -> Masker:
        """A masker for the values `secrets` have in `environ` (and the passwords in
        them, which may show up on their own)."""
        values = [environ[n] for n in secrets if n in environ]
        passwords = [m[1] for v in values for m in URL_PASSWORD.finditer(v)]
        return cls([*values, *passwords])

    def text(self, value: str) -> str:
        """`value` with every secret masked."""
        return self._text.sub(MASK, value) if self._text is not None else value

    def deep(self, value: Any) -> Any:
        """`value` with every string in it masked (dicts and lists walked): mask before
        encoding, since an encoding (JSON's escapes) can change how a secret is spelled."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.deep(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.deep(v) for v in value]
        return value

    def optional(self, value: str | None) -> str | None:
        """Like `text`, passing None through."""
        return None if value is None else self.text(value)

    def data(self, value: bytes) -> bytes:
        """`value` with every secret masked."""
        return self._bytes.sub(MASK.encode(), value) if self._bytes is not None else value

    def held_back(self, value: bytes) -> int:
        """How many trailing bytes of `value` could be the start of a secret (and must
        wait for the next chunk before they can be written)."""
        for size in range(min(len(value), self.longest - 1), 0, -1):
            tail = value[-size:]
            if any(secret.encode().startswith(tail) for secret in self.values):
                return size
        return 0


class MaskedStream:
    """A byte sink that masks secrets even when a chunk boundary cuts one in two.

    `write` keeps back the bytes that might begin a secret; `close` ends the stream and
    writes what was kept back; anything written after that is dropped. Its own lock:
    the pump thread writes while the runner's thread may close it."""

    def __init__(self, sink: BinaryIO, masker: Masker) -> None:
        self._sink, self._masker = sink, masker
        self._carry = b""
        self._closed = False
        self._lock = threading.Lock()

    def write(self, chunk: bytes) -> int:
        """Mask and write what can be written now."""
        with self._lock:
            if not self._closed:
                self._write(chunk)
        return len(chunk)

    def _write(self, chunk: bytes) -> None:
        data = self._masker.data(self._carry + chunk)
        keep = self._masker.held_back(data)
        self._carry = data[len(data) - keep :] if keep else b""
        out = data[: len(data) - keep]
        if out:
            self._sink.write(out)
            self._sink.flush()

    def close(self) -> None:
        """The stream ended: write what was kept back (the underlying file stays open:
        it is the caller's)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._carry:
                self._sink.write(self._masker.data(self._carry))
                self._carry = b""
            self._sink.flush()


def named_secrets(user_dir: Path | None, defaults: Mapping[str, str] | None = None) -> set[str]:
    """The variables every profile names as secrets (`api_key_env`, `secret_env`),
    read best-effort: a broken profile file must not let the others' keys through."""
    from hermes.errors import ProfileError
    from profiles import profile_files, read_profile

    names: set[str] = set()
    for path in profile_files(user_dir).values():
        try:
            profile = read_profile(path, defaults)
        except ProfileError:
            continue
        if profile.api_key_env:
            names.add(profile.api_key_env)
        names.update(profile.secret_env)
    return names
