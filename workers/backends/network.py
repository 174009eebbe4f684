"""The network of a sandbox that may use it: outbound only, through slirp4netns.

bubblewrap gives the sandbox its own network namespace; slirp4netns, run beside it,
gives that namespace a user-mode NAT to the outside world, with the host's own loopback
(`127.0.0.1` services: the hermes API, databases, a model server, X11) out of reach.
The sandbox is held (`--block-fd`) until its network is up, so the command never starts
without it, and slirp4netns ends when the command does.

Without slirp4netns, `network: true` can only share the host's network namespace, local
services included; the run log and `hermes doctor` say so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from hermes.errors import HermesError

#: The sandbox's resolv.conf: slirp4netns's resolver, which forwards to the host's (whose
#: own resolv.conf may name a loopback resolver the sandbox cannot reach).
RESOLV = b"nameserver 10.0.2.3\n"


class NetworkError(HermesError):
    """The sandbox's network could not be set up."""


def slirp() -> str | None:
    """The slirp4netns binary, if installed."""
    return shutil.which("slirp4netns")


def _wait_for_loopback(pid: int, limit: float = 2.0) -> None:
    """Wait until bwrap has given the sandbox its loopback address. slirp4netns brings
    `lo` up too (and the kernel then adds 127.0.0.1 itself), so starting it earlier
    makes bwrap's own setup fail on an address that already exists."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if "127.0.0.1" in Path(f"/proc/{pid}/net/fib_trie").read_text():
                return
        except OSError:
            return  # cannot look: go ahead (the sandbox reports a failed setup itself)
        time.sleep(0.0005)


class Outbound:
    """slirp4netns for one held sandbox: made before bwrap starts, attached after."""

    def __init__(self) -> None:
        self._info_read, self._info_write = os.pipe()  # bwrap --info-fd: the sandbox's pid
        self._block_read, self._block_write = os.pipe()  # bwrap --block-fd: held until set
        self._resolv_read, resolv_write = os.pipe()  # bwrap --ro-bind-data: resolv.conf
        os.write(resolv_write, RESOLV)
        os.close(resolv_write)
        self._exit_write = -1  # closing it ends slirp4netns
        self._open = {
            self._info_read, self._info_write, self._block_read, self._block_write,
            self._resolv_read,
        }  # fmt: skip
        self._slirp: subprocess.Popen[bytes] | None = None

    def bwrap_args(self) -> list[str]:
        """What bwrap needs to report its pid, wait for the network, and resolve names."""
        resolv = str(Path("/etc/resolv.conf").resolve())
        return [
            "--info-fd", str(self._info_write), "--block-fd", str(self._block_read),
            "--ro-bind-data", str(self._resolv_read), resolv,
        ]  # fmt: skip

    @property
    def pass_fds(self) -> tuple[int, ...]:
        """The pipe ends bwrap inherits."""
        return self._info_write, self._block_read, self._resolv_read

    def attach(self) -> None:
        """bwrap has started: give its namespace the network, then release it."""
        self._release(self._info_write, self._block_read, self._resolv_read)
        pid = self._sandbox_pid()
        _wait_for_loopback(pid)
        ready_read, ready_write = os.pipe()
        exit_read, self._exit_write = os.pipe()
        self._open.add(self._exit_write)
        command = [
            slirp() or "slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback",
            "--ready-fd", str(ready_write), "--exit-fd", str(exit_read),
        ]  # fmt: skip
        if os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user"):
            command += ["--userns-path", f"/proc/{pid}/ns/user"]
        self._slirp = subprocess.Popen(
            [*command, str(pid), "tap0"],
            pass_fds=(ready_write, exit_read),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        os.close(ready_write)
        os.close(exit_read)
        with os.fdopen(ready_read, "rb") as ready:
            if ready.read(1) != b"1":
                raise NetworkError("slirp4netns could not give the sandbox its network")
        try:
            os.write(self._block_write, b"1")
        except BrokenPipeError:
            raise NetworkError("the sandbox ended before its network was up") from None

    def close(self) -> None:
        """The sandbox ended: end slirp4netns and release every pipe (idempotent)."""
        self._release(*self._open)
        if self._slirp is not None:
            try:
                self._slirp.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._slirp.kill()
                self._slirp.wait()
            self._slirp = None

    def _release(self, *fds: int) -> None:
        for fd in fds:
            if fd in self._open:
                self._open.discard(fd)
                os.close(fd)

    def _sandbox_pid(self) -> int:
        data = b""
        while b"}" not in data and (chunk := os.read(self._info_read, 4096)):
            data += chunk
        try:
            return int(json.loads(data)["child-pid"])
        except (ValueError, KeyError) as exc:
            raise NetworkError(f"bubblewrap did not say where the sandbox is ({data!r})") from exc
