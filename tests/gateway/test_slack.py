"""The Slack adapter through the real slack-bolt/slack-sdk, against the fake Slack on
loopback: first the adapter alone (what it sends, what it hears), then the whole gateway
on a real board with a real dispatcher, and last the gateway as a real process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from board import CardFilter, open_store
from board.clock import utcnow
from gateway.chat.adapters import GatewayUnavailable, make_platform
from gateway.chat.platform import Button, DeliveryError, Incoming, Outgoing, Press
from gateway.chat.service import serve
from gateway.chat.slack import SlackPlatform, unescape
from tests.gateway.fake_slack import FakeSlack, Posted
from tests.helpers.agents import KEY_ENV, agent_profile, call, tool_results
from tests.helpers.agents import serve as serve_model
from tests.helpers.processes import FAST, dispatcher, wait_until
from workers.agent.fake_openai import FakeOpenAI

ALICE, MALLORY, DM = "U0ALICE", "U0MALLORY", "D0ALICE"


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        monkeypatch.setenv("SLACK_BOT_TOKEN", fake.bot_token)
        monkeypatch.setenv("SLACK_APP_TOKEN", fake.app_token)
        yield fake


def settings(slack: FakeSlack, **given: Any) -> SimpleNamespace:
    """The `gateway.slack` section, as config.yaml would give it."""
    section = {
        "bot_token_env": "SLACK_BOT_TOKEN",
        "app_token_env": "SLACK_APP_TOKEN",
        "api_base": slack.url,
        "allow": [ALICE],
        "profile": "shell",
        "repo": None,
    }
    return SimpleNamespace(**{**section, **given})


async def until(check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {check}")
        await asyncio.sleep(0.02)
    return found


class Recorder:
    """A handler that keeps what the platform hands it."""

    def __init__(self) -> None:
        self.heard: list[Incoming | Press] = []

    async def on_message(self, incoming: Incoming) -> None:
        self.heard.append(incoming)

    async def on_press(self, press: Press) -> str:
        self.heard.append(press)
        return "card 1: <approved> & done"


Scenario = Callable[[SlackPlatform], Awaitable[None]]


def drive(slack: FakeSlack, scenario: Scenario, handler: Any = None, **given: Any) -> None:
    """Run the adapter (with `handler`, or the whole gateway on the test's board when
    `handler` is None) until `scenario` is over."""

    async def main() -> None:
        section = settings(slack, **given)
        platform = make_platform("slack", section)
        assert isinstance(platform, SlackPlatform) and not platform.connected
        db_url = f"sqlite:///{os.environ['HERMES_HOME']}/board.db"
        runner = platform.run(handler) if handler else serve(platform, section, db_url)
        task = asyncio.create_task(runner)
        try:
            await until(lambda: task.done() or (platform.connected and slack.connected))
            if task.done():
                task.result()
            await scenario(platform)
        except BaseException:
            print_state(slack, db_url)
            raise
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert not platform.connected

    asyncio.run(main())


def print_state(slack: FakeSlack, db_url: str) -> None:
    """What Slack shows and what the board says, for a failing test's output."""
    for posted in slack.posted:
        print(f"slack {posted.channel} {posted.ts} in {posted.thread_ts}: {posted.current}")
    if Path(db_url.removeprefix("sqlite:///")).exists():
        with open_store(db_url) as store:
            for card in store.list_cards(CardFilter(), utcnow()):
                for event in store.detail(card.id).events:
                    print(f"card {card.id} {event.kind} {event.actor} {event.data}")


def find(slack: FakeSlack, prefix: str) -> Posted | None:
    return next((p for p in slack.posted if p.current["text"].startswith(prefix)), None)


def closed(db_url: str) -> bool:
    """Whether every subscription on the board is done with."""
    with open_store(db_url) as store:
        return all(sub.closed_at is not None for sub in store.subscriptions())


def last_call(slack: FakeSlack, method: str) -> dict[str, Any]:
    return [params for name, params in slack.calls if name == method][-1]


# -- the adapter alone ---------------------------------------------------------------------


def test_text_goes_out_escaped_plain_and_mentioning_no_one(slack: FakeSlack) -> None:
    nasty = "<!here> @everyone <#C0GENERAL> <@U0BOSS> *bold* `code` & <https://x.example|y>"

    async def scenario(platform: SlackPlatform) -> None:
        await platform.send(DM, Outgoing(nasty))

    drive(slack, scenario, Recorder())
    escaped = nasty.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    (posted,) = slack.posted
    assert posted.text == escaped and "<" not in posted.text
    assert posted.blocks == [
        {"type": "section", "text": {"type": "plain_text", "text": escaped, "emoji": False}}
    ]
    sent = last_call(slack, "chat.postMessage")
    assert (sent["mrkdwn"], sent["link_names"], sent["parse"]) == (False, False, "none")


def test_long_text_is_cut_into_sections_never_inside_an_entity(slack: FakeSlack) -> None:
    async def scenario(platform: SlackPlatform) -> None:
        await platform.send(DM, Outgoing("a" * 2999 + "&" + "b" * 10))

    drive(slack, scenario, Recorder())
    pieces = [b["text"]["text"] for b in slack.posted[0].blocks]
    assert pieces == ["a" * 2999, "&amp;" + "b" * 10]


def test_buttons_come_back_as_presses_and_edits_replace_them(slack: FakeSlack) -> None:
    recorder = Recorder()
    buttons = (Button("Approve", "hermes:approve:1:7"), Button("Reject", "hermes:reject:1:7"))

    async def scenario(platform: SlackPlatform) -> None:
        ts = await platform.send(DM, Outgoing("card 1 wants to run:\nrm -rf /", buttons))
        posted = slack.posted[0]
        assert [(b["text"]["text"], b["value"]) for b in posted.buttons] == [
            ("Approve", "hermes:approve:1:7"),
            ("Reject", "hermes:reject:1:7"),
        ]
        envelope = slack.press(ALICE, posted, "Reject")
        await until(lambda: recorder.heard and slack.ephemeral and envelope in slack.acks)
        await platform.edit(DM, ts, Outgoing("card 1: rejected (slack)"))
        assert posted.current["text"] == "card 1: rejected (slack)" and not posted.buttons

    drive(slack, scenario, recorder)
    assert recorder.heard == [Press(DM, ALICE, slack.posted[0].ts, "hermes:reject:1:7")]
    (toast,) = slack.ephemeral
    assert (toast["channel"], toast["user"]) == (DM, ALICE)
    assert toast["text"] == "card 1: &lt;approved&gt; &amp; done"  # seen by the presser only


def test_dms_mentions_and_thread_replies_are_heard_for_what_they_are(slack: FakeSlack) -> None:
    recorder = Recorder()

    async def scenario(platform: SlackPlatform) -> None:
        first = slack.message(DM, ALICE, "echo a &gt; b &amp;&amp; cat <https://x.example>")
        slack.mention("C0TEAM", ALICE, "deploy <#C0OPS|ops> now")
        slack.message("C0TEAM", ALICE, "just chatting", channel_type="channel")
        slack.message(DM, ALICE, "edited", subtype="message_changed")
        slack.message(DM, "U0OTHERBOT", "beep", bot_id="B0OTHER")
        await until(lambda: len(recorder.heard) == 3)
        ack = await platform.send(DM, Outgoing("card 1: ...", reply_to=first))
        in_thread = slack.message(DM, ALICE, "a comment", thread_ts=first)
        await until(lambda: len(recorder.heard) == 4)
        assert slack.posted[0].thread_ts == first
        await platform.send(DM, Outgoing("noted", reply_to=in_thread))
        assert slack.posted[1].thread_ts == first  # Slack threads are one level deep
        slack.message(DM, ALICE, "another", thread_ts=first)
        await until(lambda: len(recorder.heard) == 5)
        assert getattr(recorder.heard[-1], "reply_to", None) == ack  # "noted" was chatter
        await until(lambda: len(slack.acks) == 7)  # every envelope acknowledged, even ignored

    drive(slack, scenario, recorder)
    dm, mention, chatting, comment, _another = recorder.heard
    assert isinstance(dm, Incoming) and isinstance(mention, Incoming)
    assert (dm.chat, dm.user, dm.direct, dm.reply_to) == (DM, ALICE, True, None)
    assert dm.text == "echo a > b && cat https://x.example"
    assert (mention.chat, mention.text, mention.direct) == ("C0TEAM", "deploy #ops now", True)
    assert isinstance(chatting, Incoming) and not chatting.direct
    assert isinstance(comment, Incoming) and comment.reply_to == slack.posted[0].ts
    assert comment.direct and comment.text == "a comment"


def test_a_reply_in_a_thread_answers_the_open_question_else_the_root(slack: FakeSlack) -> None:
    recorder = Recorder()

    async def scenario(platform: SlackPlatform) -> None:
        status = await platform.send("C0TEAM", Outgoing("card 1 running: x"))
        question = await platform.send("C0TEAM", Outgoing("card 1 asks: eu?", reply_to=status))
        assert slack.posted[1].thread_ts == status
        slack.message("C0TEAM", ALICE, "eu-west", thread_ts=status, channel_type="channel")
        await until(lambda: len(recorder.heard) == 1)
        await platform.edit("C0TEAM", question, Outgoing("card 1: answered (slack)"))
        slack.message("C0TEAM", ALICE, "keep going", thread_ts=status, channel_type="channel")
        await until(lambda: len(recorder.heard) == 2)
        answer, comment = recorder.heard
        assert isinstance(answer, Incoming) and isinstance(comment, Incoming)
        assert (answer.reply_to, answer.direct) == (question, True)
        assert (comment.reply_to, comment.direct) == (status, True)  # parent is the bot's

    drive(slack, scenario, recorder)


def test_platform_errors_become_delivery_errors(slack: FakeSlack) -> None:
    async def scenario(platform: SlackPlatform) -> None:
        slack.fail(1)
        slack.fail(1, status=429, retry_after=2)
        with pytest.raises(DeliveryError) as server:
            await platform.send(DM, Outgoing("one"))
        with pytest.raises(DeliveryError) as limited:
            await platform.send(DM, Outgoing("one"))
        with pytest.raises(DeliveryError) as gone:
            await platform.edit(DM, "1.000001", Outgoing("no such message"))
        assert "500" in str(server.value) and not server.value.permanent
        assert server.value.retry_after is None
        assert (limited.value.retry_after, limited.value.permanent) == (2.0, False)
        assert gone.value.permanent and "message_not_found" in str(gone.value)
        assert await platform.send(DM, Outgoing("one")) == slack.posted[0].ts

    drive(slack, scenario, Recorder())


@pytest.mark.parametrize("which", ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"])
def test_a_refused_token_stops_the_platform_naming_its_variable(
    slack: FakeSlack, monkeypatch: pytest.MonkeyPatch, which: str
) -> None:
    monkeypatch.setenv(which, "xoxb-wrong" if which == "SLACK_BOT_TOKEN" else "xapp-wrong")
    platform = make_platform("slack", settings(slack))
    with pytest.raises(GatewayUnavailable) as refused:
        asyncio.run(asyncio.wait_for(platform.run(Recorder()), 10))
    assert which in str(refused.value) and "invalid_auth" in str(refused.value)
    assert "wrong" not in str(refused.value)  # never the token itself


def test_a_missing_token_is_named_before_anything_starts(
    slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLACK_APP_TOKEN")
    with pytest.raises(GatewayUnavailable, match="SLACK_APP_TOKEN"):
        make_platform("slack", settings(slack))


def test_connected_follows_the_websocket_and_it_comes_back(slack: FakeSlack) -> None:
    recorder = Recorder()

    async def scenario(platform: SlackPlatform) -> None:
        assert platform.connected
        opened = sum(1 for name, _ in slack.calls if name == "apps.connections.open")
        slack.drop()
        await until(lambda: sum(1 for n, _ in slack.calls if n == "apps.connections.open") > opened)
        await until(lambda: platform.connected and slack.connected)
        slack.message(DM, ALICE, "still there?")
        await until(lambda: recorder.heard)

    drive(slack, scenario, recorder)


def test_unescape_reads_links_mentions_and_entities() -> None:
    said = "<@U0BOT> hi <@U0BOB> <!here> <!subteam^S1|@devs> &lt;b&gt; &amp;amp;"
    assert unescape(said, "U0BOT") == "hi @U0BOB @here @devs <b> &amp;"


# -- the gateway on a real board -----------------------------------------------------------


def test_a_dm_becomes_a_card_and_the_chat_hears_how_it_went(slack: FakeSlack, db_url: str) -> None:
    sent: list[str] = []

    async def scenario(platform: SlackPlatform) -> None:
        sent.append(slack.message(DM, ALICE, "echo hello from slack"))
        await until(lambda: slack.texts(DM))
        slack.message(DM, ALICE, "echo hello from slack", ts=sent[0])  # delivered again
        await until(lambda: len(slack.texts(DM)) == 2)
        with dispatcher(*FAST):
            await until(lambda: find(slack, "card 1 done"))
        await until(lambda: closed(db_url))  # the cursor moves once Slack answered

    drive(slack, scenario)
    ack, again, status, done = slack.posted
    assert ack.text.startswith("card 1: echo hello from slack\nI'll tell you when it starts")
    assert again.text.startswith("card 1: echo hello from slack (already on the board)")
    assert ack.thread_ts == again.thread_ts == sent[0]  # answers in the message's thread
    assert (status.current["text"], status.thread_ts) == (
        "card 1 running: echo hello from slack",
        None,
    )
    assert done.text.startswith("card 1 done: echo hello from slack\nhello from slack")
    assert done.thread_ts == status.ts
    with open_store(db_url) as store:
        card = store.card(1)
        assert (card.source, card.key) == (f"slack:{DM}", f"slack:{DM}:{sent[0]}")
        assert store.stats(utcnow())["cards"] == 1
        (sub,) = store.subscriptions()
        assert sub.closed_at is not None


def test_a_mention_in_a_channel_becomes_a_card_without_the_mention(
    slack: FakeSlack, db_url: str
) -> None:
    async def scenario(platform: SlackPlatform) -> None:
        slack.mention("C0TEAM", ALICE, "echo a &gt; /dev/null &amp;&amp; echo ok")
        await until(lambda: slack.texts("C0TEAM"))

    drive(slack, scenario)
    with open_store(db_url) as store:
        card = store.card(1)
    assert card.body == card.title == "echo a > /dev/null && echo ok"
    assert slack.texts("C0TEAM")[0].startswith("card 1: echo a &gt; /dev/null &amp;&amp; echo ok")


def test_strangers_are_told_once_and_create_nothing(slack: FakeSlack, db_url: str) -> None:
    async def scenario(platform: SlackPlatform) -> None:
        slack.message(DM, MALLORY, "echo hi")
        await until(lambda: slack.texts(DM))
        slack.message(DM, MALLORY, "echo again")
        button = {"type": "button", "action_id": "hermes-0", "value": "hermes:approve:1:1"}
        slack.click(MALLORY, DM, slack.posted[0].ts, button)
        await until(lambda: slack.ephemeral)

    drive(slack, scenario)
    assert slack.texts(DM) == [
        "You are not on this bot's allow list. Your slack id is U0MALLORY; whoever runs "
        "hermes can allow you with: hermes gateway allow slack U0MALLORY"
    ]
    assert [(e["user"], e["text"]) for e in slack.ephemeral] == [
        (MALLORY, "you are not on this bot's allow list")
    ]
    with open_store(db_url) as store:
        assert store.stats(utcnow())["cards"] == 0


def test_a_failing_slack_gets_every_message_in_order_once_it_recovers(
    slack: FakeSlack, db_url: str
) -> None:
    async def scenario(platform: SlackPlatform) -> None:
        slack.message(DM, ALICE, "echo one")
        await until(lambda: slack.texts(DM))
        slack.fail(2)
        slack.fail(1, status=429, retry_after=0.3)
        with dispatcher(*FAST):
            await until(lambda: find(slack, "card 1 done"), timeout=40)
        await until(lambda: closed(db_url))

    drive(slack, scenario)
    assert [t.split(":")[0] for t in slack.texts(DM)] == ["card 1", "card 1 running", "card 1 done"]
    assert [name for name, _ in slack.calls].count("chat.postMessage") == 3 + 3
    with open_store(db_url) as store:
        (sub,) = store.subscriptions()
        assert sub.failures == 0 and sub.last_error is None


def test_approvals_questions_and_comments_from_slack(
    slack: FakeSlack,
    db_url: str,
    hermes_home: Path,
    model: list[FakeOpenAI],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")
    server = serve_model(
        model,
        [
            {"tool_calls": [call("shell", command="git push --force origin main")]},
            # slow: time for a comment while nothing is asked
            {"when": "exit code", "delay": 3, "tool_calls": [call("ask_human", question="eu?")]},
            {"when": "eu-west", "text": "Deployed to eu-west."},
        ],
    )
    agent_profile(hermes_home, "ops", server.url, backend="local", approvals="ask")

    async def scenario(platform: SlackPlatform) -> None:
        slack.message(DM, ALICE, "/profile ops Deploy the site")
        with dispatcher(*FAST, "--lease", "30"):
            asked = await until(lambda: find(slack, "card 1 wants to run:"))
            status = find(slack, "card 1 running")
            assert status is not None and asked.thread_ts == status.ts
            assert "git push --force origin main" in asked.text and "high risk" in asked.text
            slack.press(ALICE, asked, "Approve")
            await until(lambda: not asked.buttons)  # answered: the buttons went
            slack.message(DM, ALICE, "keep going", thread_ts=status.ts)
            await until(lambda: find(slack, "card 1: noted"))
            question = await until(lambda: find(slack, "card 1 asks: eu?"))
            assert question.thread_ts == status.ts
            slack.message(DM, ALICE, "eu-west", thread_ts=status.ts)  # answers the question
            await until(lambda: find(slack, "card 1 done"))

    drive(slack, scenario)
    assert [e["text"] for e in slack.ephemeral] == ["card 1: approved"]
    assert find(slack, "card 1: approved (slack)") is not None
    assert find(slack, "card 1: answered (slack)") is not None  # the question, edited
    done = find(slack, "card 1 done")
    assert done is not None and done.text.startswith("card 1 done: Deploy the site\nDeployed")
    with open_store(db_url) as store:
        events = store.detail(1).events
    comment = next(e for e in events if e.kind == "comment")
    assert (comment.actor, comment.data["text"]) == (f"slack:{ALICE}", "keep going")
    answered = next(e for e in events if e.kind == "answered")
    assert (answered.actor, answered.data["answer"]) == (f"slack:{ALICE}", "eu-west")
    assert tool_results(server.requests[-1])[-1] == "eu-west"


def test_reject_returns_the_reason_to_the_model(
    slack: FakeSlack,
    db_url: str,
    hermes_home: Path,
    model: list[FakeOpenAI],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")
    server = serve_model(
        model,
        [
            {"tool_calls": [call("shell", command="git push --force origin main")]},
            {"when": "rejected", "text": "Understood: no force push."},
        ],
    )
    agent_profile(hermes_home, "ops", server.url, backend="local", approvals="ask")

    async def scenario(platform: SlackPlatform) -> None:
        slack.message(DM, ALICE, "/profile ops Push it")
        with dispatcher(*FAST, "--lease", "30"):
            asked = await until(lambda: find(slack, "card 1 wants to run:"))
            slack.press(ALICE, asked, "Reject")
            await until(lambda: find(slack, "card 1 done"))

    drive(slack, scenario)
    assert [e["text"] for e in slack.ephemeral] == ["card 1: rejected"]
    assert find(slack, "card 1: rejected (slack)") is not None
    assert tool_results(server.requests[-1])[-1] == "rejected by a human: rejected"


def test_a_press_for_a_reclaimed_run_is_refused(
    slack: FakeSlack,
    db_url: str,
    hermes_home: Path,
    model: list[FakeOpenAI],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")
    server = serve_model(
        model, [{"tool_calls": [call("shell", command="git push --force origin main")]}]
    )
    agent_profile(hermes_home, "ops", server.url, backend="local", approvals="ask")

    async def scenario(platform: SlackPlatform) -> None:
        slack.message(DM, ALICE, "/profile ops Push it")
        with dispatcher(*FAST, "--lease", "30"), open_store(db_url) as store:
            asked = await until(lambda: find(slack, "card 1 wants to run:"))
            (run,) = store.detail(1).runs
            assert run.pid is not None
            os.kill(run.pid, signal.SIGKILL)
            await until(lambda: store.detail(1).runs[0].outcome == "reclaimed")
            slack.press(ALICE, asked, "Approve")
            await until(lambda: slack.ephemeral)

    drive(slack, scenario)
    (toast,) = slack.ephemeral
    assert "no longer applies" in toast["text"] and toast["user"] == ALICE
    with open_store(db_url) as store:
        assert not [e for e in store.detail(1).events if e.kind == "approved"]


# -- the gateway as a real process ---------------------------------------------------------


@contextmanager
def gateway(log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`hermes gateway start --platform slack` as a real process, stopped after."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hermes", "gateway", "start", "--platform", "slack"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def configure(home: Path, slack: FakeSlack) -> None:
    """`config.yaml` with a `gateway.slack` section pointing at the fake."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    (home / "config.yaml").write_text(
        f"gateway:\n  slack:\n    api_base: {slack.url}\n    allow: [{ALICE}]\n    profile: shell\n"
    )


def test_the_gateway_stops_at_once_when_slack_refuses_a_token(
    slack: FakeSlack, hermes_home: Path
) -> None:
    configure(hermes_home, slack)
    started = subprocess.run(
        [sys.executable, "-m", "hermes", "gateway", "start", "--platform", "slack"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SLACK_APP_TOKEN": "xoxb-pasted-in-the-wrong-place"},
    )
    assert started.returncode == 1, started.stdout + started.stderr
    assert "pasted" not in started.stdout + started.stderr
    assert "Slack refused the app token in SLACK_APP_TOKEN (invalid_auth)" in started.stdout


def test_kill_9_between_an_event_and_its_send_loses_nothing(
    slack: FakeSlack, db_url: str, hermes_home: Path
) -> None:
    configure(hermes_home, slack)
    log = hermes_home.parent / "gateway.log"
    with gateway(log) as first:
        wait_until(lambda: slack.connected, timeout=30)
        slack.message(DM, ALICE, "echo survived")
        wait_until(lambda: slack.texts(DM), timeout=30)
        slack.holds = 1  # the next send reaches Slack and is never answered
        with dispatcher(*FAST):
            wait_until(lambda: slack.held, timeout=30)
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
            with open_store(db_url) as store:
                wait_until(lambda: store.card(1).status == "done")
            status = subprocess.run(
                [sys.executable, "-m", "hermes", "gateway", "status", "--json"],
                capture_output=True,
                text=True,
                timeout=60,
            )
            (row,) = json.loads(status.stdout)
            assert (row["platform"], row["undelivered"]) == ("slack", 1)
            with gateway(log):
                wait_until(lambda: find(slack, "card 1 done"), timeout=30)
                wait_until(lambda: closed(db_url))
    texts = slack.texts(DM)
    assert [t.split(":")[0] for t in texts] == ["card 1", "card 1 running", "card 1 done"], (
        log.read_text()
    )
    assert slack.held[0]["text"] == texts[1]  # the message that was in flight, once more
    assert slack.posted[2].thread_ts == slack.posted[1].ts
    with open_store(db_url) as store:
        (sub,) = store.subscriptions()
        assert sub.closed_at is not None
