"""A real SSH server on 127.0.0.1 for tests: asyncssh's own, running each command with
bash as this user (the "remote host" is this machine, its files a temp directory).

Keys, authorized_keys and known_hosts are made in the test's temp directory; nothing
reads or writes the user's ~/.ssh.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh


@dataclass
class SshServer:
    """What a profile needs to reach the server, and its files."""

    port: int
    key_file: Path  # the client's private key
    known_hosts: Path  # lists the server's real key
    host_key: str  # the server's public key line (for pinning)
    workdir: Path  # the remote workdir profiles use
    commands: list[str]  # every command the server was asked to run

    def backend(self, **fields: Any) -> dict[str, Any]:
        """A profile's `backend` block for this server."""
        return {
            "kind": "ssh",
            "host": "127.0.0.1",
            "port": self.port,
            "key_file": str(self.key_file),
            "known_hosts": str(self.known_hosts),
            "workdir": str(self.workdir),
            **fields,
        }


def keypair(folder: Path, name: str) -> tuple[Path, str]:
    """A new ed25519 key written to `folder/name`; returns its path and public line."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    path = folder / name
    key.write_private_key(str(path))
    path.chmod(0o600)
    public = key.export_public_key().decode().strip()
    (folder / f"{name}.pub").write_text(public + "\n")
    return path, public


class _Commands:
    """The server side: runs each command with bash, remembers what it started."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.commands: list[str] = []
        self.connections: list[asyncssh.SSHServerConnection] = []
        self.procs: list[asyncio.subprocess.Process] = []

    async def handle(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        """Run the command, its stdin, stdout and stderr copied both ways."""
        self.commands.append(str(process.command))
        local = await asyncio.create_subprocess_exec(
            "bash", "-c", str(process.command or "true"), cwd=self.folder,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.procs.append(local)
        assert local.stdin and local.stdout and local.stderr
        feeding = asyncio.ensure_future(_feed(process.stdin, local.stdin))
        await asyncio.gather(
            _copy(local.stdout, process.stdout), _copy(local.stderr, process.stderr)
        )
        code = await local.wait()
        feeding.cancel()
        process.exit(code)

    async def stop(self, acceptor: asyncssh.SSHAcceptor) -> None:
        """Stop listening; end what a test left running (a kill given up on, say)."""
        acceptor.close()
        for proc in self.procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            await proc.wait()
        for connection in self.connections:
            connection.close()
        await asyncio.wait(
            [asyncio.ensure_future(c.wait_closed()) for c in self.connections]
            or [asyncio.ensure_future(asyncio.sleep(0))],
            timeout=5,
        )
        await acceptor.wait_closed()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        if others:
            await asyncio.wait(others, timeout=5)


async def _feed(source: Any, target: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            target.write(data)
            await target.drain()
        target.close()
    except (OSError, asyncssh.Error):
        pass


async def _copy(source: asyncio.StreamReader, target: Any) -> None:
    while data := await source.read(65536):
        target.write(data)


@contextmanager
def ssh_server(folder: Path) -> Iterator[SshServer]:
    """Start the server on a free port of 127.0.0.1 in a thread; stopped after."""
    folder.mkdir(parents=True, exist_ok=True)
    host_key, host_public = keypair(folder, "host_key")
    client_key, client_public = keypair(folder, "client_key")
    (folder / "authorized_keys").write_text(client_public + "\n")
    side = _Commands(folder)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="test-sshd", daemon=True)
    thread.start()

    async def listen() -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[str(host_key)],
            authorized_client_keys=str(folder / "authorized_keys"),
            process_factory=side.handle,
            encoding=None,
            acceptor=side.connections.append,
        )

    acceptor = asyncio.run_coroutine_threadsafe(listen(), loop).result(10)
    port = acceptor.get_port()
    known = folder / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_public}\n")
    workdir = folder / "remote"
    workdir.mkdir()
    try:
        yield SshServer(port, client_key, known, host_public, workdir, side.commands)
    finally:
        from workers.backends.remote import close_all

        close_all()  # the clients this test's backends opened
        try:
            asyncio.run_coroutine_threadsafe(side.stop(acceptor), loop).result(20)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            if not loop.is_running():
                loop.close()
