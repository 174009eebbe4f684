"""Agent benchmarks: how fast an agent card reaches its model, what an agent worker costs
in memory, and how big the fixed part of the `default` profile's prompt is.

The model is the scripted OpenAI-compatible server on loopback, so the figures measure
hermes, not a provider. The reference is measured in the same run: a fresh `python`
importing litellm (what a worker would pay without the warm template).
Run with `python -m bench agent`.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

from bench.common import ROOT, Row, Size, hermes_env, percentile, pick, wait_for
from board import CardFilter, NewCard, Store, open_store
from board.clock import parse_iso, utcnow
from workers.agent.fake_openai import FakeOpenAI

SECTION = "agent"
KEY = "HERMES_BENCH_MODEL_KEY"
PROMPT_GOAL = 2000  # tokens: the goal for the default profile's fixed prompt

#: A fresh python importing litellm (the reference), then measuring the prompt: one
#: litellm import serves both.
COLD_CHILD = """
from workers.agent.model import import_litellm
import_litellm()
print("imported", flush=True)
import json
from bench.agent import prompt_size
print(json.dumps(prompt_size()), flush=True)
"""


def is_done(store: Store, card_id: int) -> bool:
    return store.card(card_id).status == "done"


def memory(pid: int) -> tuple[float, float]:
    """RSS and unique (private) memory of a process, in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0]) / 1024
    return fields["Rss"], fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)


def startup(home: Path, cards: int) -> tuple[list[float], tuple[float, float], float]:
    """Claim -> first model request per card, an agent worker's memory, template RSS."""
    script = [
        {"when": f"# Card {n}:", "text": "done", "delay": 2.0 if n == 2 else 0.0}
        for n in range(1, cards + 3)
    ]
    with FakeOpenAI(script) as server:
        (home / "profiles").mkdir(parents=True)
        (home / "profiles" / "bench.yaml").write_text(
            f"runner: agent\nmodel: openai/gpt-4o-mini\napi_base: {server.url}\n"
            f"api_key_env: {KEY}\nmax_attempts: 1\n"
        )
        store = open_store(f"sqlite:///{home / 'board.db'}")
        proc = subprocess.Popen(
            [sys.executable, "-m", "hermes", "dispatcher", "start"],
            env=hermes_env(home, **{KEY: "sk-bench"}),
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )

        def add(n: int) -> int:
            return store.add_card(NewCard(f"c{n}", "bench", 1, body="hi"), utcnow())[0]

        try:
            first = add(1)
            wait_for(lambda: store.card(first).status == "done", 120)  # warms the template
            slow = add(2)  # its model call takes 2 s: time to look at the worker
            pid = wait_for(lambda: next((r.pid for r in store.detail(slow).runs if r.pid), None))
            worker_mem = memory(pid)
            parent = int(Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[1])
            template_rss = memory(parent)[0]
            wait_for(lambda: store.card(slow).status == "done")
            latencies = []
            for n in range(3, cards + 3):
                card = add(n)
                wait_for(partial(is_done, store, card))
                claimed = next(e.at for e in store.detail(card).events if e.kind == "claimed")
                asked = next(
                    r["received_at"]
                    for r in server.requests
                    if f"# Card {card}:" in json.dumps(r["messages"])
                )
                latencies.append(asked - parse_iso(claimed).timestamp())
            assert all(c.status == "done" for c in store.list_cards(CardFilter(), utcnow()))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            store.close()
    return latencies, worker_mem, template_rss


def cold_import_and_prompt() -> tuple[float, int, int]:
    """(seconds for a fresh python to import litellm, system prompt and tool tokens)."""
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", COLD_CHILD], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    cold = time.perf_counter() - start
    assert line.strip() == "imported", line
    system, tools = json.loads(child.stdout.readline())
    if child.wait(timeout=120) != 0:
        raise RuntimeError("the prompt-size child failed")
    return cold, system, tools


def prompt_size() -> tuple[int, int]:
    """Tokens of the `default` profile's system prompt and of its tool schemas (short card)."""
    from board import Card
    from profiles import load_profile
    from skills import index
    from workers.agent.messages import Message
    from workers.agent.model import _to_wire, _tool, import_litellm
    from workers.agent.prompt import system_prompt
    from workers.agent.toolbox import GROUPS, SPECS

    litellm = import_litellm()
    profile = load_profile("default", None)
    card = Card(
        7,
        "Fix the typo in README",
        "It says 'teh'.",
        "running",
        "default",
        0,
        [],
        None,
        "cli",
        None,
        None,
        "/repo",
        "main",
        "hermes/card-7",
        "/wt",
        1,
        2,
        None,
        None,
        "now",
        "now",
        1,
    )
    system = [_to_wire(Message("system", system_prompt(profile, card, index(None))))]
    tools = [_tool(SPECS[name]) for group in profile.tools for name in GROUPS[group]]
    model = "openai/gpt-4o-mini"
    alone = int(litellm.token_counter(model=model, messages=system))
    both = int(litellm.token_counter(model=model, messages=system, tools=tools))
    return alone, both - alone


def run(workdir: Path, size: Size) -> list[Row]:
    """All agent figures, each next to its reference."""
    cards = pick(size, 3, 5, 30)
    latencies, (rss, unique), template = startup(workdir / "agent-home", cards)
    cold, system, tools = cold_import_and_prompt()
    cold_is = "a fresh python importing litellm"
    rows = [
        Row(
            SECTION,
            f"claim -> first model request, p{p} ({cards} cards)",
            percentile(latencies, p) * 1e3,
            "ms",
            cold * 1e3,
            cold_is,
        )
        for p in (50, 99)
    ]
    template_is = "the agent worker template it shares pages with (RSS)"
    rows.append(Row(SECTION, "agent worker RSS", rss, "MiB", template, template_is))
    rows.append(Row(SECTION, "agent worker unique memory", unique, "MiB", template, template_is))
    rows.append(
        Row(
            SECTION,
            "default profile fixed prompt: system + tools",
            system + tools,
            "tokens",
            PROMPT_GOAL,
            "the goal (setting)",
            f"system prompt {system:,} + tool schemas {tools:,}",
        )
    )
    return rows
