"""Agent benchmarks: how fast an agent card reaches its model, what an agent worker costs
in memory, and how big the fixed part of the `default` profile's prompt is.

The model is the scripted OpenAI-compatible server on loopback, so the figures measure
hermes, not a provider. References are measured in the same run: a fresh `python`
importing litellm (what a worker would pay without the warm template).

    python bench/agent.py            # 30 sequential cards
    python bench/agent.py --quick    # 10
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from board import CardFilter, NewCard, open_store  # noqa: E402
from board.clock import parse_iso, utcnow  # noqa: E402
from workers.agent.fake_openai import FakeOpenAI  # noqa: E402

KEY = "HERMES_BENCH_MODEL_KEY"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def memory(pid: int) -> tuple[float, float]:
    """RSS and unique (private) memory of a process, in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0]) / 1024
    return fields["Rss"], fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)


def wait_for(check, timeout: float = 120):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(check)
        time.sleep(0.01)
    return value


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
        env = {**os.environ, "HERMES_HOME": str(home), KEY: "sk-bench"}
        store = open_store(f"sqlite:///{home / 'board.db'}")
        proc = subprocess.Popen(
            [sys.executable, "-m", "hermes", "dispatcher", "start"],
            env=env,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            add = lambda n: store.add_card(NewCard(f"c{n}", "bench", 1, body="hi"), utcnow())[0]  # noqa: E731
            first = add(1)
            wait_for(lambda: store.card(first).status == "done")  # warms the agent template
            slow = add(2)  # its model call takes 2 s: time to look at the worker
            pid = wait_for(lambda: next((r.pid for r in store.detail(slow).runs if r.pid), None))
            worker_mem = memory(pid)
            template_rss = memory(
                int(Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[1])
            )[0]
            wait_for(lambda: store.card(slow).status == "done")
            latencies = []
            for n in range(3, cards + 3):
                card = add(n)
                wait_for(lambda c=card: store.card(c).status == "done")
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
    return latencies, worker_mem, template_rss


def cold_litellm_import() -> float:
    """What each agent worker would pay at start without the warm template."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "from workers.agent.model import import_litellm; import_litellm()"],
        check=True,
        cwd=ROOT,
    )
    return time.perf_counter() - start


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer cards")
    opts = parser.parse_args()
    cards = 10 if opts.quick else 30
    with tempfile.TemporaryDirectory(prefix="hermes-agent-bench-") as tmp:
        latencies, (rss, unique), template = startup(Path(tmp) / "home", cards)
    cold = cold_litellm_import()
    system, tools = prompt_size()
    rows = [
        (
            f"claim -> first model request, p50 / p99 ({cards} cards, ms)",
            f"{percentile(latencies, 50) * 1e3:.0f} / {percentile(latencies, 99) * 1e3:.0f}",
            f"{cold * 1e3:,.0f} ms: a fresh python importing litellm",
        ),
        (
            "agent worker memory: RSS / unique (MiB)",
            f"{rss:.0f} / {unique:.0f}",
            f"{template:.0f} MiB: the agent template it shares pages with",
        ),
        (
            "default profile fixed prompt: system + tools (tokens)",
            f"{system + tools:,}",
            f"system prompt {system:,} + tool schemas {tools:,}; goal <= 2,000",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value':>12}  reference")
    for name, value, reference in rows:
        print(f"{name.ljust(width)}  {value:>12}  {reference}")


if __name__ == "__main__":
    main()
