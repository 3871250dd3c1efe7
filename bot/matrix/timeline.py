"""A joined room's synced events, in order: gaps filled, upgrades followed, messages handed on, commands run.

Ordering guarantees: events are handled in timeline order per sync batch. A batch whose timeline
was cut (``limited``) is completed from ``/messages`` back to the previous sync token first, so
nothing that happened while the bot was down is skipped. A command is claimed in the state store
before it is answered, so the guarantee is "at most once", restarts included; commands older than
the grace window, or from before the bot joined, are never answered.
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
    Event,
    MegolmEvent,
    MessageDirection,
    RoomMessage,
    RoomMessagesError,
    RoomMessageText,
    RoomUpgradeEvent,
)

from ..state import BotState
from .events import CommandContext, is_command, is_edit, thread_root_of
from .nio_client import RateLimitAwareClient
from .outbox import Outbox
from .permissions import RoomAdminCache
from .rooms import Rooms
from .sending import CONNECTION_ERRORS

log = logging.getLogger(__name__)

CommandHandler = Callable[[CommandContext], Awaitable[None]]
ContentHandler = Callable[[str, str, str, dict[str, Any], int], Awaitable[None]]

ERROR_REPLY = "Something went wrong while answering that command."


class Timeline:
    def __init__(
        self,
        client: RateLimitAwareClient,
        rooms: Rooms,
        state: BotState,
        admins: RoomAdminCache,
        outbox: Outbox,
        *,
        command_prefix: str,
        grace_ms: int,
        on_command: CommandHandler | None,
        on_message_content: ContentHandler | None,
        max_concurrent_commands: int,
    ) -> None:
        self.client = client
        self.rooms = rooms
        self.state = state
        self.admins = admins
        self.outbox = outbox
        self.command_prefix = command_prefix
        self.grace_ms = grace_ms
        self._on_command = on_command
        self._on_message_content = on_message_content
        self._slots = asyncio.Semaphore(max_concurrent_commands)
        self.tasks: set[asyncio.Task[None]] = set()
        self.started_ms = int(time.time() * 1000)

    async def handle_room(self, room_id: str, info: Any, since: str | None) -> None:
        """One joined room of a sync response."""
        events: list[Any] = list(info.timeline.events)
        for state_event in info.state:  # state that changed in a gap arrives here, not in the timeline
            self.admins.observe(room_id, state_event.source.get("type"))
        just_joined = await self.rooms.note_joins(room_id, [*info.state, *events])
        if info.timeline.limited and since and info.timeline.prev_batch and not just_joined:
            events = await self._fill_gap(room_id, info.timeline.prev_batch, since) + events
        for ev in events:
            try:
                await self._on_event(room_id, ev)
            except Exception:  # one bad event must not cost the rest of the batch
                log.exception("Handling %s in %s failed", getattr(ev, "event_id", "?"), room_id)

    async def _fill_gap(self, room_id: str, prev_batch: str, since: str, max_pages: int = 20) -> list[Any]:
        """Events between the previous sync and a cut timeline, oldest first."""
        found: list[Any] = []
        start: str | None = prev_batch
        for _ in range(max_pages):
            try:
                resp = await self.client.room_messages(
                    room_id, start=start, end=since, direction=MessageDirection.back, limit=100
                )
            except CONNECTION_ERRORS as err:
                log.warning("Could not fetch missed events of %s: %s", room_id, err)
                break
            if isinstance(resp, RoomMessagesError):
                log.warning("Could not fetch missed events of %s: %s", room_id, resp.message)
                break
            found.extend(resp.chunk)
            if not resp.chunk or not resp.end or resp.end == start:
                break
            start = resp.end
        else:
            log.warning("More missed events in %s than fetched; older ones are skipped", room_id)
        found.reverse()
        log.info("Fetched %d events of %s missed in a cut sync timeline", len(found), room_id)
        return found

    async def _on_event(self, room_id: str, ev: Event) -> None:
        if "state_key" in ev.source:
            self.admins.observe(room_id, ev.source.get("type"))
        if isinstance(ev, RoomUpgradeEvent):
            await self.rooms.follow_upgrade(room_id, ev)
            return
        if isinstance(ev, MegolmEvent):
            log.warning("Could not decrypt %s in %s (session %s)", ev.event_id, room_id, ev.session_id)
            return
        if not isinstance(ev, RoomMessage) or ev.sender == self.rooms.user_id:
            return
        content = ev.source.get("content") or {}
        if self._on_message_content is not None:
            try:
                await self._on_message_content(room_id, ev.event_id, ev.sender, content, ev.server_timestamp)
            except Exception:
                log.exception("on_message_content failed for %s", ev.event_id)
        ctx = self._command_context(room_id, ev, content)
        if ctx is not None and await self.state.claim_command(ctx.event_id, room_id):
            task = asyncio.create_task(self._run_command(ctx))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    def _command_context(self, room_id: str, ev: RoomMessage, content: dict[str, Any]) -> CommandContext | None:
        if not isinstance(ev, RoomMessageText) or content.get("msgtype") != "m.text" or is_edit(content):
            return None
        if not is_command(ev.body, self.command_prefix):
            return None
        ts = ev.server_timestamp
        if ts < self.started_ms - self.grace_ms:
            return None
        joined = self.state.joined_ts(room_id)
        if joined is not None and ts < joined:
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
                if self._on_command is not None:
                    await self._on_command(ctx)
            except Exception:
                log.exception("Command %s from %s in %s failed", ctx.event_id, ctx.sender, ctx.room_id)
                try:
                    await self.outbox.reply(ctx, ERROR_REPLY, html.escape(ERROR_REPLY))
                except Exception:
                    log.exception("Could not send the error reply to %s", ctx.event_id)
