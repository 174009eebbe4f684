"""Which variables are secrets, and masking them in text, JSON and streamed output."""

from __future__ import annotations

import io
import json

import pytest

from workers.secrets import MaskedStream, Masker, card_env, secret_names

ENV = {
    "OPENAI_API_KEY": "sk-live-abcdef123456",
    "STRIPE_KEY": "rk_live_999999",
    "GITLAB_PAT": "glpat-xxxxxxxx",
    "SENTRY_DSN": "https://key@sentry.example/1",
    "DATABASE_URL": "postgresql://app:hunter2pass@db/app",
    "MY_CUSTOM": "custom-secret-value",
    "SSH_AUTH_SOCK": "/run/user/1000/ssh-agent",
    "HOME": "/home/me",
    "PATH": "/usr/bin",
    "TOKENIZERS_PARALLELISM": "false",
    "LANG": "C.UTF-8",
}


def test_secret_names_come_from_names_values_and_profiles() -> None:
    found = secret_names(ENV, named=["MY_CUSTOM"])
    assert found == {
        "OPENAI_API_KEY", "STRIPE_KEY", "GITLAB_PAT", "SENTRY_DSN", "DATABASE_URL",
        "MY_CUSTOM", "SSH_AUTH_SOCK",
    }  # fmt: skip


def test_card_env_keeps_secrets_out_except_those_passed_on_purpose() -> None:
    secrets = secret_names(ENV, named=[])
    env = card_env(ENV, secrets, passed=["GITLAB_PAT"])
    assert env["GITLAB_PAT"] == "glpat-xxxxxxxx" and "OPENAI_API_KEY" not in env
    assert env["PATH"] == "/usr/bin" and env["TOKENIZERS_PARALLELISM"] == "false"


def test_values_and_url_passwords_are_masked() -> None:
    masker = Masker.of(ENV, secret_names(ENV, named=[]))
    text = "key sk-live-abcdef123456, db hunter2pass, short 1"
    assert masker.text(text) == "key ***, db ***, short 1"


def test_masking_happens_before_json_escaping() -> None:
    masker = Masker(['pa"ss\\word-123'])
    entry = masker.deep({"result": 'the key is pa"ss\\word-123', "n": [1, 'pa"ss\\word-123']})
    assert "ss\\\\word" not in json.dumps(entry) and entry == {
        "result": "the key is ***",
        "n": [1, "***"],
    }


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64])
def test_a_stream_masks_a_secret_cut_by_any_chunk_boundary(size: int) -> None:
    secret = "sk-live-abcdef123456"
    data = f"start {secret} middle {secret}{secret} end {secret[:5]}".encode()
    out = io.BytesIO()
    stream = MaskedStream(out, Masker([secret]))
    for i in range(0, len(data), size):
        stream.write(data[i : i + size])
    stream.close()
    stream.write(b"after close is dropped")
    assert out.getvalue().decode() == "start *** middle ****** end sk-li"
