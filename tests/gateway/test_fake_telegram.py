"""The fake Telegram Bot API itself, spoken to with plain HTTP requests: what the
adapter's tests rely on it for (updates, offsets, long polls, sends, edits, buttons,
refusals) behaves as the real Bot API documents it."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.gateway.fake_telegram import BOT, FakeTelegram

ALICE, GROUP = 111, -100


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


def api(tg: FakeTelegram, method: str, token: str = "", form: bool = False, **params: Any) -> Any:
    """POST a Bot API method (JSON body, or form fields with JSON-encoded objects as
    python-telegram-bot sends them); returns (HTTP status, decoded body)."""
    url = f"{tg.api_base}/bot{token or tg.token}/{method}"
    if form:
        fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        body, kind = urllib.parse.urlencode(fields).encode(), "application/x-www-form-urlencoded"
    else:
        body, kind = json.dumps(params).encode(), "application/json"
    request = urllib.request.Request(url, body, {"Content-Type": kind})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def test_get_me_answers_the_bot_and_a_wrong_token_is_refused(tg: FakeTelegram) -> None:
    status, body = api(tg, "getMe")
    assert (status, body["ok"], body["result"]["id"]) == (200, True, BOT["id"])
    assert body["result"]["username"] == "hermes_test_bot" and body["result"]["is_bot"]
    status, body = api(tg, "getMe", token="999:wrong")
    assert (status, body["ok"], body["error_code"]) == (401, False, 401)
    assert api(tg, "deleteWebhook") == (200, {"ok": True, "result": True})
    assert api(tg, "noSuchMethod")[0] == 404


def test_updates_stay_until_the_offset_confirms_them(tg: FakeTelegram) -> None:
    first = tg.say(ALICE, ALICE, "hello")
    second = tg.say(ALICE, ALICE, "again")
    _, body = api(tg, "getUpdates", timeout=0)
    updates = body["result"]
    assert [u["message"]["message_id"] for u in updates] == [first, second]
    message = updates[0]["message"]
    assert message["chat"] == {"id": ALICE, "type": "private", "first_name": "Alice"}
    assert (message["from"]["id"], message["text"]) == (ALICE, "hello")
    _, body = api(tg, "getUpdates", timeout=0)  # nothing confirmed yet: the same again
    assert len(body["result"]) == 2
    _, body = api(tg, "getUpdates", offset=updates[0]["update_id"] + 1, timeout=0)
    assert [u["message"]["text"] for u in body["result"]] == ["again"]
    assert tg.confirmed == updates[0]["update_id"] + 1
    tg.again(first)  # the same message in a new update
    _, body = api(tg, "getUpdates", offset=updates[1]["update_id"] + 1, timeout=0)
    assert [u["message"]["message_id"] for u in body["result"]] == [first]


def test_a_long_poll_waits_and_wakes_when_someone_writes(tg: FakeTelegram) -> None:
    start = time.monotonic()
    _, body = api(tg, "getUpdates", timeout=0.3)
    assert body["result"] == [] and time.monotonic() - start >= 0.3
    timer = threading.Timer(0.2, tg.say, (ALICE, ALICE, "wake up"))
    timer.start()
    start = time.monotonic()
    _, body = api(tg, "getUpdates", timeout=20)
    timer.join()
    assert [u["message"]["text"] for u in body["result"]] == ["wake up"]
    assert time.monotonic() - start < 5


def test_a_newer_poll_ends_the_older_one_with_a_conflict(tg: FakeTelegram) -> None:
    older: list[Any] = []
    thread = threading.Thread(target=lambda: older.append(api(tg, "getUpdates", timeout=20)))
    thread.start()
    time.sleep(0.3)
    assert api(tg, "getUpdates", timeout=0)[1]["result"] == []
    thread.join(10)
    assert older[0][0] == 409 and "terminated by other getUpdates" in older[0][1]["description"]


def test_send_records_replies_and_buttons_in_json_or_form_fields(tg: FakeTelegram) -> None:
    asked = tg.say(ALICE, ALICE, "deploy")
    keyboard = {"inline_keyboard": [[{"text": "Approve", "callback_data": "hermes:approve:1:1"}]]}
    status, body = api(
        tg,
        "sendMessage",
        chat_id=ALICE,
        text="ok",
        reply_parameters={"message_id": asked},
        reply_markup=keyboard,
    )
    assert status == 200
    result = body["result"]
    assert (result["chat"]["id"], result["from"]["id"], result["text"]) == (ALICE, BOT["id"], "ok")
    assert result["reply_markup"] == keyboard
    _, body = api(
        tg, "sendMessage", form=True, chat_id=str(ALICE), text="42", reply_to_message_id=str(asked)
    )
    first, second = tg.sent
    assert (first.reply_to, first.buttons) == (asked, [("Approve", "hermes:approve:1:1")])
    assert (second.chat, second.text, second.reply_to, second.buttons) == (ALICE, "42", asked, [])
    assert tg.texts(ALICE) == ["ok", "42"] and tg.requests[-1][0] == "sendMessage"


def test_edits_replace_text_and_buttons_and_say_when_nothing_changes(tg: FakeTelegram) -> None:
    keyboard = {"inline_keyboard": [[{"text": "Approve", "callback_data": "a"}]]}
    _, body = api(tg, "sendMessage", chat_id=ALICE, text="wants to run", reply_markup=keyboard)
    message_id = body["result"]["message_id"]
    status, body = api(
        tg,
        "editMessageText",
        chat_id=ALICE,
        message_id=message_id,
        text="approved",
        reply_markup={"inline_keyboard": []},
    )
    assert status == 200 and "reply_markup" not in body["result"]
    (sent,) = tg.sent
    assert (sent.texts, sent.keyboards) == (["wants to run", "approved"], [[("Approve", "a")], []])
    status, body = api(tg, "editMessageText", chat_id=ALICE, message_id=message_id, text="approved")
    assert status == 400 and "message is not modified" in body["description"]
    status, body = api(tg, "editMessageText", chat_id=ALICE, message_id=999, text="x")
    assert status == 400 and "message to edit not found" in body["description"]


def test_a_press_comes_as_a_callback_query_and_its_answer_is_recorded(tg: FakeTelegram) -> None:
    keyboard = {"inline_keyboard": [[{"text": "Reject", "callback_data": "hermes:reject:3:7"}]]}
    _, body = api(tg, "sendMessage", chat_id=ALICE, text="risky", reply_markup=keyboard)
    query_id = tg.press(body["result"]["message_id"], ALICE, "Reject")
    (update,) = api(tg, "getUpdates", timeout=0)[1]["result"]
    query = update["callback_query"]
    assert (query["id"], query["data"], query["from"]["id"]) == (
        query_id,
        "hermes:reject:3:7",
        ALICE,
    )
    assert query["message"]["message_id"] == body["result"]["message_id"]
    assert (
        api(tg, "answerCallbackQuery", callback_query_id=query_id, text="card 3: rejected")[0]
        == 200
    )
    assert tg.toasts == {query_id: "card 3: rejected"}


def test_a_group_mention_and_a_reply_to_the_bot(tg: FakeTelegram) -> None:
    _, body = api(tg, "sendMessage", chat_id=GROUP, text="card 1 running")
    status_id = body["result"]["message_id"]
    tg.say(GROUP, ALICE, "fix the build", mention=True)
    tg.say(GROUP, ALICE, "keep going", reply_to=status_id)
    mention, reply = (u["message"] for u in api(tg, "getUpdates", timeout=0)[1]["result"])
    assert mention["chat"]["type"] == "group"
    assert mention["text"] == "@hermes_test_bot fix the build"
    assert mention["entities"] == [{"type": "mention", "offset": 0, "length": 16}]
    replied = reply["reply_to_message"]
    assert (replied["message_id"], replied["from"]["id"]) == (status_id, BOT["id"])


def test_sends_fail_as_told_then_succeed(tg: FakeTelegram) -> None:
    tg.fail(2, 500)
    tg.fail(1, 429, retry_after=3)
    codes = [api(tg, "sendMessage", chat_id=ALICE, text=f"m{n}") for n in range(4)]
    assert [status for status, _ in codes] == [500, 500, 429, 200]
    assert codes[2][1]["parameters"] == {"retry_after": 3}
    assert tg.texts(ALICE) == ["m3"]


def test_a_stalled_send_is_shown_before_it_is_answered(tg: FakeTelegram) -> None:
    tg.stall(1, seconds=0.5)
    start = time.monotonic()
    thread = threading.Thread(
        target=api, args=(tg, "sendMessage"), kwargs={"chat_id": ALICE, "text": "slow"}
    )
    thread.start()
    time.sleep(0.2)
    assert tg.texts(ALICE) == ["slow"] and thread.is_alive()
    thread.join(10)
    assert time.monotonic() - start >= 0.5
