"""A private docker daemon for tests, and a tiny image built offline.

The daemon runs on its own socket in a temp directory, with its own data, exec root and
pid file, and touches nothing of the host's networking (no bridge, no iptables, no
forwarding or masquerading): only containers with `network: none` (or `host`) can run
on it, which is what the tests need. The image is `FROM scratch` plus the static
busybox and bash of this machine: nothing is pulled from a registry.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

IMAGE = "hermes-test/tiny:1"
PR_SET_PDEATHSIG = 1
FLAGS = ("--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false")
STATIC = {"busybox": ("/bin/busybox", "/usr/bin/busybox"), "bash": ("/bin/bash-static",)}
DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
COPY bash /bin/bash
RUN ["/bin/busybox", "--install", "-s", "/bin"]
"""


class NoDocker(Exception):
    """Why a daemon cannot run here (the tests skip with it)."""


@contextmanager
def private_daemon() -> Iterator[str]:
    """Start dockerd on a socket of its own; yields its DOCKER_HOST; stops it after."""
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise NoDocker("dockerd is not installed (apt install docker.io)")
    if os.geteuid() != 0:
        raise NoDocker("dockerd needs root here (rootless docker is not set up)")
    folder = Path(tempfile.mkdtemp(prefix="hermes-dockerd-", dir="/tmp"))  # short socket path
    socket = folder / "docker.sock"
    argv = [
        dockerd, *FLAGS, "--ip-masq=false",
        "--data-root", str(folder / "data"), "--exec-root", str(folder / "exec"),
        "--pidfile", str(folder / "docker.pid"), "-H", f"unix://{socket}",
    ]  # fmt: skip
    log = (folder / "dockerd.log").open("wb")
    proc = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_us
    )
    try:
        host = f"unix://{socket}"
        _until_up(proc, host, folder / "dockerd.log")
        yield host
    finally:
        _stop(proc)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _die_with_us() -> None:
    """In the child, before exec: SIGTERM when the test process dies, so a killed test
    run (a CI timeout, say) leaves no daemon behind (Linux only; elsewhere a no-op)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _until_up(proc: subprocess.Popen[bytes], host: str, log: Path) -> None:
    import docker

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            lines = log.read_text(errors="replace").strip().splitlines()
            raise NoDocker(
                f"dockerd could not start here: {lines[-1] if lines else proc.returncode}"
            )
        if _answers(docker, host):
            return
        time.sleep(0.2)
    raise NoDocker("dockerd did not answer within 30 s")


def _answers(docker: Any, host: str) -> bool:
    if not Path(host.removeprefix("unix://")).exists():
        return False  # not yet (and the SDK's failed connects leak their sockets)
    try:
        client = docker.DockerClient(base_url=host, timeout=5)
    except Exception:  # the socket is not there yet
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def build_image(host: str) -> str:
    """Build the tiny image on the daemon at `host` (offline); returns its tag."""
    import docker

    with tempfile.TemporaryDirectory(prefix="hermes-image-") as context:
        for name, candidates in STATIC.items():
            found = next((Path(c) for c in candidates if Path(c).is_file()), None)
            if found is None:
                raise NoDocker(f"no static {name} here (apt install busybox-static bash-static)")
            shutil.copy2(found, Path(context) / name)
        (Path(context) / "Dockerfile").write_text(DOCKERFILE)
        client = docker.DockerClient(base_url=host, timeout=120)
        try:
            client.images.build(path=context, tag=IMAGE, network_mode="none", rm=True)
        except docker.errors.BuildError as exc:  # a busybox that is not static, say
            raise NoDocker(f"the test image could not be built: {exc}") from None
        finally:
            client.close()
    return IMAGE
