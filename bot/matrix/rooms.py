"""The rooms the bot is in: invites, joins, upgrades (tombstones) and direct chats.

Joins follow ``matrix.allowed_inviters``, for invites and for tombstones alike. Two rooms are linked
as an upgrade only when the new room's create event names the old one as its predecessor: a
tombstone alone proves nothing, and a linked room inherits the old one's settings and history.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from nio import InviteMemberEvent, JoinError, RoomMemberEvent, RoomUpgradeEvent

from ..state import BotState
from .events import MatrixSettings, inviter_allowed, server_of
from .nio_client import RateLimitAwareClient
from .sending import CONNECTION_ERRORS, SendError

log = logging.getLogger(__name__)

UpgradeHandler = Callable[[str, str], Awaitable[None]]


class Rooms:
    def __init__(
        self,
        client: RateLimitAwareClient,
        settings: MatrixSettings,
        state: BotState,
        on_room_upgraded: UpgradeHandler | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.state = state
        self._on_room_upgraded = on_room_upgraded
        self._pending_invites: dict[str, InviteMemberEvent] = {}

    @property
    def user_id(self) -> str:
        return self.settings.user_id

    # -- invites and joins ---------------------------------------------------------------

    def note_invite(self, room_id: str, invite_state: Iterable[Any]) -> None:
        for ev in invite_state:
            if isinstance(ev, InviteMemberEvent) and ev.state_key == self.user_id and ev.membership == "invite":
                self._pending_invites[room_id] = ev

    async def answer_invites(self) -> None:
        """Join or reject pending invites; one the homeserver did not get stays pending."""
        for room_id, ev in list(self._pending_invites.items()):
            try:
                if inviter_allowed(ev.sender, self.settings.allowed_inviters):
                    await self._accept_invite(room_id, ev)
                else:
                    log.info("Rejecting the invite to %s from %s (not an allowed inviter)", room_id, ev.sender)
                    await self.client.room_leave(room_id)
            except CONNECTION_ERRORS as err:
                log.warning("Could not answer the invite to %s yet: %s", room_id, err)
                continue
            self._pending_invites.pop(room_id, None)

    async def _accept_invite(self, room_id: str, ev: InviteMemberEvent) -> None:
        resp = await self.client.join(room_id)
        if isinstance(resp, JoinError):
            log.warning("Could not join %s: %s", room_id, resp)
            return
        log.info("Joined %s on the invite of %s", room_id, ev.sender)
        await self._finish_upgrades_to(room_id)

    async def note_joins(self, room_id: str, events: Iterable[Any]) -> bool:
        """Record the bot's new joins among ``events``; True if there was one.

        A full-state sync repeats the join that made the bot a member; only a newer one is a new join.
        """
        joined = False
        known = self.state.joined_ts(room_id)
        for ev in events:
            if (
                isinstance(ev, RoomMemberEvent)
                and ev.state_key == self.user_id
                and ev.membership == "join"
                and ev.prev_membership != "join"
                and (known is None or ev.server_timestamp > known)
            ):
                await self.state.record_join(room_id, ev.server_timestamp)
                joined = True
        return joined

    # -- upgrades ------------------------------------------------------------------------

    async def follow_upgrade(self, old_room_id: str, ev: RoomUpgradeEvent) -> None:
        """Note a tombstone; join its room only when an allowed inviter sent it."""
        new_room_id = ev.replacement_room
        if not new_room_id or new_room_id == old_room_id:
            return
        await self.state.note_upgrade(old_room_id, new_room_id)
        if new_room_id not in self.client.rooms:
            if not inviter_allowed(ev.sender, self.settings.allowed_inviters):
                log.info("Room %s was upgraded to %s by %s, not an allowed inviter; waiting for an invite",
                         old_room_id, new_room_id, ev.sender)  # fmt: skip
                return
            resp = await self.client.join_via(new_room_id, [server_of(ev.sender)])
            if isinstance(resp, JoinError):
                log.warning("Room %s was upgraded to %s but joining it failed (%s); waiting for an invite",
                            old_room_id, new_room_id, resp)  # fmt: skip
                return
            log.info("Followed the upgrade of %s to %s", old_room_id, new_room_id)
        await self._finish_upgrades_to(new_room_id)

    async def _predecessor_of(self, room_id: str) -> str | None:
        """The room that ``room_id``'s create event names as its predecessor, read from the homeserver."""
        resp = await self.client.room_get_state_event(room_id, "m.room.create")
        content = getattr(resp, "content", None)
        predecessor = content.get("predecessor") if isinstance(content, dict) else None
        old = predecessor.get("room_id") if isinstance(predecessor, dict) else None
        return old if isinstance(old, str) else None

    async def _finish_upgrades_to(self, new_room_id: str) -> None:
        pending = self.state.pending_upgrades_to(new_room_id)
        if not pending:
            return
        predecessor = await self._predecessor_of(new_room_id)
        for old_room_id in pending:
            if old_room_id != predecessor:
                log.warning("A tombstone in %s names %s, whose create event does not name it as predecessor;"
                            " not followed", old_room_id, new_room_id)  # fmt: skip
                await self.state.drop_upgrade(old_room_id, new_room_id)
                continue
            if await self.state.finish_upgrade(old_room_id) and self._on_room_upgraded is not None:
                try:
                    await self._on_room_upgraded(old_room_id, new_room_id)
                except Exception:
                    log.exception("on_room_upgraded(%s, %s) failed", old_room_id, new_room_id)

    def lineage(self, room_id: str) -> tuple[str, ...]:
        """The room and every room it replaced through verified upgrades, newest first."""
        return (room_id, *self.state.predecessors(room_id))

    # -- direct chats and senders --------------------------------------------------------

    def is_direct_chat(self, room_id: str, user_id: str) -> bool:
        """Whether the room is, right now, a chat of just the bot and ``user_id`` (joined or invited).

        Decided from current membership, never from a flag set once: a direct chat that others
        joined later is a shared room, and cross-room answers there would leak to every member.
        """
        room = self.client.rooms.get(room_id)
        if room is None:
            return False
        members = set(room.users) | set(room.invited_users)
        return members == {self.user_id, user_id}

    async def direct_room_with(self, user_id: str) -> str:
        """An existing direct chat with ``user_id`` (just the two of us), else a new one."""
        for room_id in list(self.client.rooms):
            if self.is_direct_chat(room_id, user_id):
                return room_id
        resp = await self.client.room_create(invite=[user_id], is_direct=True)
        if not hasattr(resp, "room_id"):
            raise SendError(f"could not open a direct chat with {user_id}: {resp}")
        return str(resp.room_id)

    async def event_sender(self, room_id: str, event_id: str) -> str | None:
        """Who sent an event, asked of the homeserver; None if it cannot say."""
        try:
            resp = await self.client.room_get_event(room_id, event_id)
        except CONNECTION_ERRORS as err:
            log.warning("could not fetch %s in %s: %s", event_id, room_id, err)
            return None
        event = getattr(resp, "event", None)
        return getattr(event, "sender", None)

    def display_name(self, room_id: str) -> str | None:
        room = self.client.rooms.get(room_id)
        return room.display_name if room is not None else None
