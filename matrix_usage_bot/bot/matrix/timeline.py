"""The plugin's ears on a host's nio client: event callbacks that pick out commands and run each once.

Events arrive as the host's client hands them to its event callbacks, in timeline order per room (nio
runs the callbacks while it handles a sync; the standalone host fills a cut timeline first). A
command is claimed in the bot's state, in the usage store, before it is answered, so the guarantee is
"at most once", restarts and a second process on the same store included; commands older than the
grace window, or from before the host joined the room, are never answered. Messages that do not
start with the prefix are left to the host (and, with passive collection, only read).
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nio import (
    AsyncClient,
    Event,
    MatrixInvitedRoom,
    MatrixRoom,
    MegolmEvent,
    RoomMemberEvent,
    RoomMessage,
    RoomMessageText,
    RoomUpgradeEvent,
)
from nio.client.base_client import ClientCallback

from ..state import BotState
from .events import CommandContext, is_command, is_edit, thread_root_of
from .outbox import Outbox
from .rooms import Rooms

log = logging.getLogger(__name__)

CommandHandler = Callable[[CommandContext], Awaitable[None]]
ContentHandler = Callable[[str, str, str, dict[str, Any], int], Awaitable[None]]

ERROR_REPLY = "Something went wrong while answering that command."


@dataclasses.dataclass(eq=False)
class Timeline:
    """``attach()`` registers the callbacks on the client, ``detach()`` removes exactly those.

    ``on_command(ctx)`` gets each new command once; ``on_message_content(room_id, event_id, sender,
    content, origin_server_ts)`` gets every room message of others, history included.
    """

    client: AsyncClient
    rooms: Rooms
    state: BotState
    outbox: Outbox
    synced: asyncio.Condition
    _: dataclasses.KW_ONLY
    command_prefix: str
    grace_ms: int
    on_command: CommandHandler | None
    on_message_content: ContentHandler | None
    max_concurrent_commands: int = 4
    tasks: set[asyncio.Task[None]] = dataclasses.field(default_factory=set, init=False)
    started_ms: int = dataclasses.field(default_factory=lambda: int(time.time() * 1000), init=False)
    _callbacks: list[ClientCallback] = dataclasses.field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.max_concurrent_commands)

    # -- attaching -----------------------------------------------------------------------

    def attach(self) -> None:
        if self._callbacks:
            return
        self.started_ms = int(time.time() * 1000)
        for func, kind in (
            (self._on_member, RoomMemberEvent),
            (self._on_tombstone, RoomUpgradeEvent),
            (self._on_undecryptable, MegolmEvent),
            (self._on_message, RoomMessage),
        ):
            self.client.add_event_callback(func, kind)  # type: ignore[arg-type]
            self._callbacks.append(self.client.event_callbacks[-1])

    async def detach(self, drain_timeout: float = 30.0) -> None:
        """Remove this timeline's callbacks (the host's stay), then let running commands finish."""
        ours = {id(cb) for cb in self._callbacks}
        self.client.event_callbacks[:] = [cb for cb in self.client.event_callbacks if id(cb) not in ours]
        self._callbacks.clear()
        if self.tasks:
            _, pending = await asyncio.wait(set(self.tasks), timeout=drain_timeout)
            for task in pending:
                task.cancel()

    @property
    def attached(self) -> bool:
        return bool(self._callbacks)

    # -- callbacks -----------------------------------------------------------------------

    async def _synced(self) -> None:
        async with self.synced:
            self.synced.notify_all()

    async def _note(self, room: MatrixRoom, ev: Event, note: Callable[[str, Any], Awaitable[None]]) -> bool:
        """Hand a state event of a joined room to the rooms' bookkeeping; False in rooms only invited to."""
        if isinstance(room, MatrixInvitedRoom):
            return False
        try:
            await note(room.room_id, ev)
        except Exception:
            log.exception("Noting %s %s in %s failed", type(ev).__name__, ev.event_id, room.room_id)
        return True

    async def _on_member(self, room: MatrixRoom, ev: RoomMemberEvent) -> None:
        if await self._note(room, ev, self.rooms.note_membership):
            await self._synced()

    async def _on_tombstone(self, room: MatrixRoom, ev: RoomUpgradeEvent) -> None:
        await self._note(room, ev, self.rooms.note_tombstone)

    async def _on_undecryptable(self, room: MatrixRoom, ev: MegolmEvent) -> None:
        if isinstance(room, MatrixInvitedRoom):
            return
        if self.client.olm is None:
            await self.rooms.posts_in(room.room_id)  # says once per room why nothing happens there
        else:
            log.warning("Could not decrypt %s in %s (session %s)", ev.event_id, room.room_id, ev.session_id)

    async def _on_message(self, room: MatrixRoom, ev: RoomMessage) -> None:
        if isinstance(room, MatrixInvitedRoom):
            return
        await self._synced()
        if ev.sender == self.rooms.user_id:
            return
        room_id = room.room_id
        content = ev.source.get("content") or {}
        if self.on_message_content is not None:
            try:
                await self.on_message_content(room_id, ev.event_id, ev.sender, content, ev.server_timestamp)
            except Exception:
                log.exception("on_message_content failed for %s", ev.event_id)
        try:
            ctx = await self._command_context(room_id, ev, content)
            if ctx is not None and await self.state.claim_command(ctx.event_id, room_id):
                task = asyncio.create_task(self._run_command(ctx))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
        except Exception:  # never into the host's sync
            log.exception("Taking the command %s in %s failed", ev.event_id, room_id)

    def handles(self, body: str) -> bool:
        """Whether a message body is a command of this plugin (the host leaves those alone)."""
        return is_command(body, self.command_prefix)

    async def _command_context(self, room_id: str, ev: RoomMessage, content: dict[str, Any]) -> CommandContext | None:
        if not isinstance(ev, RoomMessageText) or content.get("msgtype") != "m.text" or is_edit(content):
            return None
        if not self.handles(ev.body):
            return None
        ts = ev.server_timestamp
        if ts < self.started_ms - self.grace_ms:
            return None
        if not await self.rooms.posts_in(room_id):
            return None
        joined = await self.rooms.joined_ts(room_id)
        if joined is None or ts < joined:
            return None
        return CommandContext(
            room_id=room_id,
            event_id=ev.event_id,
            sender=ev.sender,
            body=ev.body,
            thread_root=thread_root_of(content),
            is_direct=False,  # decided from membership when the command is answered (_run_command)
            encrypted=bool(ev.decrypted),
            origin_server_ts=ts,
        )

    async def _run_command(self, ctx: CommandContext) -> None:
        async with self._slots:
            ctx = dataclasses.replace(ctx, is_direct=self.rooms.is_direct_chat(ctx.room_id, ctx.sender))
            try:
                if self.on_command is not None:
                    await self.on_command(ctx)
            except Exception:
                log.exception("Command %s from %s in %s failed", ctx.event_id, ctx.sender, ctx.room_id)
                try:
                    await self.outbox.reply(ctx, ERROR_REPLY, html.escape(ERROR_REPLY))
                except Exception:
                    log.exception("Could not send the error reply to %s", ctx.event_id)
