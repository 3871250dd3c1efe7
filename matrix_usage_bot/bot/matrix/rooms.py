"""What the plugin knows about the rooms of the host's account: joins, upgrades, direct chats, who answers.

The host joins rooms; the plugin only watches. It records the host's joins (commands from before a
join are never answered), and links an upgraded room to the one it replaced only once the host is in
the new room and that room's create event names the old one as its predecessor: a tombstone alone
proves nothing, and a linked room inherits the old one's settings and history.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from nio import AsyncClient, RoomGetStateError, RoomMemberEvent, RoomUpgradeEvent

from ..state import BotState
from .events import is_own_join, own_user_id
from .sending import CONNECTION_ERRORS, SendError

log = logging.getLogger(__name__)

UpgradeHandler = Callable[[str, str], Awaitable[None]]
JoinHandler = Callable[[str], Awaitable[None]]


class Rooms:
    def __init__(
        self,
        client: AsyncClient,
        state: BotState,
        *,
        on_room_upgraded: UpgradeHandler | None = None,
        on_joined: JoinHandler | None = None,
        responders: Sequence[str] = (),
    ) -> None:
        self.client = client
        self.state = state
        self.responders = list(responders)
        self._on_room_upgraded = on_room_upgraded
        self._on_joined = on_joined
        self._told_no_e2ee: set[str] = set()

    @property
    def user_id(self) -> str:
        return own_user_id(self.client)

    # -- joins ---------------------------------------------------------------------------

    async def note_membership(self, room_id: str, ev: RoomMemberEvent) -> None:
        """The host's own joins and leaves, as its timeline shows them."""
        if ev.state_key != self.user_id:
            return
        if is_own_join(ev, self.user_id):
            known = self.state.joined_ts(room_id)
            if known is None or ev.server_timestamp > known:
                await self.state.record_join(room_id, ev.server_timestamp)
                await self._finish_upgrades_to(room_id)
                if self._on_joined is not None:
                    await self._on_joined(room_id)
        elif ev.membership in ("leave", "ban"):
            await self.state.record_leave(room_id, ev.server_timestamp)

    async def joined_ts(self, room_id: str) -> int | None:
        """When the host last joined the room (ms); asked of the homeserver once if not seen.

        A host may have joined before the plugin was attached, or in a sync whose timeline no longer
        shows the join; then the membership event in the room's current state tells.
        """
        known = self.state.joined_ts(room_id)
        if known is not None:
            return known
        try:
            resp = await self.client.room_get_state(room_id)
        except CONNECTION_ERRORS as err:
            log.warning("Could not read the state of %s: %s", room_id, err)
            return None
        if isinstance(resp, RoomGetStateError):
            log.warning("Could not read the state of %s: %s", room_id, resp.message)
            return None
        for ev in resp.events:
            content = ev.get("content") or {}
            if ev.get("type") == "m.room.member" and ev.get("state_key") == self.user_id:
                if content.get("membership") == "join" and isinstance(ev.get("origin_server_ts"), int):
                    await self.state.record_join(room_id, ev["origin_server_ts"])
                    return self.state.joined_ts(room_id)
        return None

    # -- who posts -----------------------------------------------------------------------

    async def posts_in(self, room_id: str) -> bool:
        """Whether this host answers, warns and posts digests in the room.

        Not in an encrypted room when the host's client has no E2EE: nio would send in plaintext.
        With ``bot.responders``, only the first of them that is a member of the room posts; a host not
        on the list posts only where none of them is.
        """
        room = self.client.rooms.get(room_id)
        if room is not None and room.encrypted and self.client.olm is None:
            if room_id not in self._told_no_e2ee:
                self._told_no_e2ee.add(room_id)
                log.warning("%s is encrypted and the host's nio client has no end-to-end encryption "
                            "(AsyncClientConfig(encryption_enabled=True) and a store_path): the usage plugin "
                            "neither reads nor posts there", room_id)  # fmt: skip
            return False
        if not self.responders or room is None:
            return True
        if not room.members_synced:
            try:
                await self.client.joined_members(room_id)
            except CONNECTION_ERRORS as err:
                log.warning("Could not read the members of %s: %s", room_id, err)
        members = set(room.users) - set(room.invited_users)
        for responder in self.responders:
            if responder == self.user_id:
                return True
            if responder in members:
                return False
        return True

    # -- upgrades ------------------------------------------------------------------------

    async def note_tombstone(self, old_room_id: str, ev: RoomUpgradeEvent) -> None:
        """Note an upgrade; it is linked once the host is in the new room (now, or when it joins)."""
        new_room_id = ev.replacement_room
        if not new_room_id or new_room_id == old_room_id:
            return
        await self.state.note_upgrade(old_room_id, new_room_id)
        if new_room_id in self.client.rooms:
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
        """Whether the room is, right now, a chat of just the host and ``user_id`` (joined or invited).

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
