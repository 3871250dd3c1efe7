"""Which rooms the standalone bot joins: invites from allowed inviters, and rooms named by a tombstone.

This is the host's part of room membership (``matrix.allowed_inviters``). The plugin joins nothing:
a host that embeds it decides its own joins, and the plugin links an upgraded room to the old one
(``bot.matrix.rooms``) only once the host is in the new room and its create event names the old one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from nio import InviteMemberEvent, JoinError, RoomUpgradeEvent

from .events import MatrixSettings, inviter_allowed, server_of
from .nio_client import RateLimitAwareClient
from .sending import CONNECTION_ERRORS

log = logging.getLogger(__name__)


class Joins:
    def __init__(self, client: RateLimitAwareClient, settings: MatrixSettings) -> None:
        self.client = client
        self.settings = settings
        self._pending_invites: dict[str, InviteMemberEvent] = {}

    @property
    def user_id(self) -> str:
        return self.settings.user_id

    def note_invite(self, room_id: str, invite_state: Iterable[Any]) -> None:
        for ev in invite_state:
            if isinstance(ev, InviteMemberEvent) and ev.state_key == self.user_id and ev.membership == "invite":
                self._pending_invites[room_id] = ev

    async def answer_invites(self) -> None:
        """Join or reject pending invites; one the homeserver did not get stays pending."""
        for room_id, ev in list(self._pending_invites.items()):
            try:
                if inviter_allowed(ev.sender, self.settings.allowed_inviters):
                    resp = await self.client.join(room_id)
                    if isinstance(resp, JoinError):
                        log.warning("Could not join %s: %s", room_id, resp)
                    else:
                        log.info("Joined %s on the invite of %s", room_id, ev.sender)
                else:
                    log.info("Rejecting the invite to %s from %s (not an allowed inviter)", room_id, ev.sender)
                    await self.client.room_leave(room_id)
            except CONNECTION_ERRORS as err:
                log.warning("Could not answer the invite to %s yet: %s", room_id, err)
                continue
            self._pending_invites.pop(room_id, None)

    async def follow_tombstone(self, old_room_id: str, ev: RoomUpgradeEvent) -> None:
        """Join the room a tombstone names, but only when an allowed inviter sent the tombstone."""
        new_room_id = ev.replacement_room
        if not new_room_id or new_room_id == old_room_id or new_room_id in self.client.rooms:
            return
        if not inviter_allowed(ev.sender, self.settings.allowed_inviters):
            log.info("Room %s was upgraded to %s by %s, not an allowed inviter; waiting for an invite",
                     old_room_id, new_room_id, ev.sender)  # fmt: skip
            return
        try:
            resp = await self.client.join_via(new_room_id, [server_of(ev.sender)])
        except CONNECTION_ERRORS as err:
            log.warning("Could not follow the upgrade of %s to %s: %s", old_room_id, new_room_id, err)
            return
        if isinstance(resp, JoinError):
            log.warning("Room %s was upgraded to %s but joining it failed (%s); waiting for an invite",
                        old_room_id, new_room_id, resp)  # fmt: skip
            return
        log.info("Followed the upgrade of %s to %s", old_room_id, new_room_id)
