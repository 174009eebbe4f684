"""Mirroring a worktree back from the remote host (workers.backends.remote.unpack): new,
changed and deleted files follow; `.git` never crosses; links never lead a deletion or
an extraction out of the workspace."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

pytest.importorskip("asyncssh")

from workers.backends.remote import pack, unpack


def archive(entries: dict[str, str | tuple[str, str]]) -> bytes:
    """A tar archive: name -> file text, or ("link", target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, value in entries.items():
            info = tarfile.TarInfo(name)
            if isinstance(value, tuple):
                info.type, info.linkname = tarfile.SYMTYPE, value[1]
                tar.addfile(info)
            else:
                data = value.encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_files_follow_and_git_never_crosses(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "src").mkdir(parents=True)
    (ws / "src" / "keep.txt").write_text("old")
    (ws / "gone.txt").write_text("x")
    (ws / ".git").write_text("gitdir: /repo/.git/worktrees/card-1\n")
    data = archive({"./src/keep.txt": "new", "./.git/hooks/pre-commit": "evil", "./n.txt": "n"})
    assert unpack(data, ws) == []
    assert (ws / "src" / "keep.txt").read_text() == "new"
    assert (ws / "n.txt").read_text() == "n" and not (ws / "gone.txt").exists()
    assert (ws / ".git").read_text() == "gitdir: /repo/.git/worktrees/card-1\n"
    names = tarfile.open(fileobj=io.BytesIO(pack(ws))).getnames()
    assert ".git" not in names and "n.txt" in names


def test_a_link_never_leads_a_deletion_or_a_write_outside(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keys").write_text("secret")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "outside").symlink_to(precious)  # say, a symlink tracked in the repository
    data = archive({"./a.txt": "a", "./escape": ("link", str(precious)), "./up": ("link", "..")})
    refused = unpack(data, ws)
    assert sorted(refused) == ["escape", "up"]
    assert (precious / "keys").read_text() == "secret"  # not deleted through the link
    assert not (ws / "outside").exists() and not (ws / "escape").exists()
    assert (ws / "a.txt").read_text() == "a"
