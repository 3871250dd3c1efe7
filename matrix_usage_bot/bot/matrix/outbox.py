"""Everything the bot posts: answers to commands (in their thread, or as replies), notices, texts, files.

One retry policy for all of them lives in ``Sender``; this class adds only the Matrix shape of
each message and waits until a sync has shown a room before sending to it. ``synced`` is notified
whenever the host's client hands on events (see ``bot.matrix.timeline``): the plugin has no sync loop
of its own to learn it from.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from nio import AsyncClient

from .events import CommandContext
from .sending import FileUpload, Sender, SendError


class Outbox:
    def __init__(self, client: AsyncClient, sender: Sender, synced: asyncio.Condition) -> None:
        self.client = client
        self.sender = sender
        self._synced = synced

    async def wait_for_room(self, room_id: str, timeout: float = 30.0) -> None:
        """Wait until a sync has shown the room (e.g. right after joining it).

        nio must know a room's state (encrypted or not, its members) before it can send to it.
        """
        deadline = time.monotonic() + timeout
        while room_id not in self.client.rooms:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SendError(f"the bot is not in room {room_id}")
            with contextlib.suppress(TimeoutError):  # looked at again at least once a second
                async with self._synced:
                    await asyncio.wait_for(self._synced.wait(), min(left, 1.0))

    async def reply(self, ctx: CommandContext, plain: str, html_body: str | None = None) -> str:
        """Answer a command: in its thread if it was asked in one, else as a reply to it."""
        return await self.notice(ctx.room_id, plain, html_body, reply_to=ctx.event_id, thread_root=ctx.thread_root)

    async def reply_file(
        self, ctx: CommandContext, upload: FileUpload, caption: str, caption_html: str | None = None
    ) -> str:
        """Answer a command with a file (``m.image``/``m.file``, encrypted in encrypted rooms), captioned.

        Raises ``FileTooLarge`` when the file is over the homeserver's upload limit."""
        await self.wait_for_room(ctx.room_id)
        return await self.sender.file(
            ctx.room_id, upload, caption, caption_html, reply_to=ctx.event_id, thread_root=ctx.thread_root
        )

    async def notice(self, room_id: str, *args: Any, **kwargs: Any) -> str:
        """``Sender.notice`` (same arguments), once a sync has shown the room."""
        await self.wait_for_room(room_id)
        return await self.sender.notice(room_id, *args, **kwargs)

    async def text(self, room_id: str, *args: Any, **kwargs: Any) -> str:
        """``Sender.text`` (same arguments), once a sync has shown the room: an ``m.text`` notifies, unlike
        notices (warnings use it)."""
        await self.wait_for_room(room_id)
        return await self.sender.text(room_id, *args, **kwargs)
