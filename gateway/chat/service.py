"""One chat platform at work: its connection, its conversation, its notifier and its
word on the board (`hermes gateway status`), supervised together."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

from board.clock import utcnow
from gateway.chat.conversation import Conversation
from gateway.chat.notifier import Notifier
from gateway.chat.platform import Platform
from hermes.board_thread import BoardThread
from hermes.errors import HermesError
from hermes.paths import this_host

BEAT = 5.0  # seconds between the gateway's reports on the board


async def serve(
    platform: Platform,
    section: Any,
    db_url: str,
    report: Callable[[str], None] = lambda _line: None,
) -> None:
    """Run `platform` (configured by its `gateway.<name>` settings) until cancelled; a
    failure of its connection, conversation or notifier ends it (loudly)."""
    board = BoardThread(db_url, platform.name)
    conversation = Conversation(
        platform,
        board,
        allow=[str(user) for user in section.allow],
        profile=section.profile,
        repo=section.repo,
    )
    notifier = Notifier(platform, board, db_url, report=report)
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(platform.run(conversation), name=f"{platform.name}:connection")
            group.create_task(notifier.run(), name=f"{platform.name}:notifier")
            group.create_task(_beat(platform, conversation, board), name=f"{platform.name}:beat")
    except* HermesError as group:  # say what stopped it (a refused token), not "a group"
        raise group.exceptions[0] from None
    finally:
        await _said(board, platform, conversation, connected=False)
        board.close()


async def _beat(platform: Platform, conversation: Conversation, board: BoardThread) -> None:
    while True:
        await _said(board, platform, conversation, connected=platform.connected)
        await asyncio.sleep(BEAT)


async def _said(
    board: BoardThread, platform: Platform, conversation: Conversation, *, connected: bool
) -> None:
    now, last = utcnow(), conversation.last_message_at
    await board(
        lambda s: s.gateway_beat(
            platform.name, now, host=this_host(), pid=os.getpid(),
            connected=connected, last_message_at=last,
        )
    )  # fmt: skip
