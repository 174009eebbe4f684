"""What isolation costs: trivial cards on the docker and ssh backends against the same
cards on the local backend, measured in the same run (card start latency and trivial
cards per minute, as ratios).

Docker runs on a private daemon started for the bench (its own socket and data, no host
networking touched; needs root and dockerd) with a tiny image built offline, the same
as the tests use; ssh on an asyncssh server on 127.0.0.1, so the figures are hermes'
own cost (connection, mirroring the worktree, setsid), not a network's. A backend that
cannot run here is left out with a note. Run with `python -m bench backends`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.common import Row, Size, percentile, pick
from bench.dispatch import latency, throughput

SECTION = "backends"


@contextmanager
def docker_backend() -> Iterator[str]:
    """The `backend` block of a profile on a private daemon with the tiny image."""
    from tests.helpers.dockerd import build_image, private_daemon

    with private_daemon() as host:
        image = build_image(host)
        yield f"{{kind: docker, image: '{image}', docker_host: '{host}'}}"


@contextmanager
def ssh_backend(workdir: Path) -> Iterator[str]:
    """The `backend` block of a profile on an ssh server on 127.0.0.1."""
    from tests.helpers.sshd import ssh_server

    with ssh_server(workdir / "sshd") as server:
        fields = ", ".join(f"{k}: '{v}'" for k, v in server.backend().items())
        yield f"{{{fields}}}"


def run(workdir: Path, size: Size) -> list[Row]:
    """Each backend's throughput and created -> done p50, beside local's in this run."""
    cards, samples = pick(size, 16, 60, 300), pick(size, 3, 10, 40)
    local_per_min, _, _ = throughput(workdir, cards)
    local_done = percentile(latency(workdir, samples)["completed"], 50)
    rows: list[Row] = []
    for name in ("docker", "ssh"):
        with ExitStack() as stack:
            try:
                block = stack.enter_context(
                    docker_backend() if name == "docker" else ssh_backend(workdir)
                )
            except Exception as exc:  # no daemon here, say: the rows are left out
                print(f"backends: no {name} rows ({exc})", file=sys.stderr)
                continue
            per_min, _, _ = throughput(workdir, cards, block, tag=name)
            done = percentile(latency(workdir, samples, block, tag=name)["completed"], 50)
        local = "the same cards on the local backend, this run"
        rows += [
            Row(SECTION, f"{name}: `true` cards, concurrency 8, {cards:,} cards", per_min,
                "/min", local_per_min, local),
            Row(SECTION, f"{name}: `true` card, created -> done, p50", done * 1e3, "ms",
                local_done * 1e3, local),
        ]  # fmt: skip
    return rows
