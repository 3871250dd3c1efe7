"""Who counts as a room admin (README: Running the bot): users whose power level reaches the level needed
to send ``m.room.power_levels``, plus, from room version 12 on, the room creators.

Power level rules (Matrix spec v1.16, "m.room.power_levels" and room version 12):

- Room versions with creator power (12 and later, and Synapse's ``org.matrix.hydra.*``
  pre-release of it): the creators are the create event's ``sender`` plus the user ids
  in ``additional_creators`` of its content. They have an infinite power level and must
  not appear in ``users``.
- Otherwise a user's level is ``users[user_id]`` if listed, else ``users_default`` (0).
- Without any ``m.room.power_levels`` event: creators have 100 (v1-v11: ``content.creator``,
  or the sender from v11 on), everybody else 0, and ``state_default`` is 0.
- The level needed to send ``m.room.power_levels`` is ``events["m.room.power_levels"]``,
  else ``state_default`` (50 when a power levels event exists).

The pure functions take plain event content; ``RoomAdminCache`` fetches it with nio.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nio import AsyncClient, RoomGetStateError

log = logging.getLogger(__name__)

POWER_LEVELS = "m.room.power_levels"
INFINITE = math.inf


def has_creator_power(room_version: str) -> bool:
    """True for room versions where creators have infinite power (MSC4289, v12+)."""
    if room_version.isdigit():
        return int(room_version) >= 12
    return room_version.startswith("org.matrix.hydra.")


def _as_int(value: Any, default: int) -> int:
    """Power levels are integers; rooms before v10 may still carry them as strings."""
    if isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def room_creators(create_content: Mapping[str, Any], create_sender: str, room_version: str | None = None) -> set[str]:
    version = room_version or str(create_content.get("room_version", "1"))
    if has_creator_power(version):
        extra = create_content.get("additional_creators") or []
        return {create_sender} | {u for u in extra if isinstance(u, str)}
    creator = create_content.get("creator")
    return {creator if isinstance(creator, str) and creator else create_sender}


def required_level(power_levels: Mapping[str, Any] | None, event_type: str = POWER_LEVELS) -> int:
    """The level needed to send the state event ``event_type``."""
    if power_levels is None:
        return 0
    events = power_levels.get("events") or {}
    if event_type in events:
        return _as_int(events[event_type], 50)
    return _as_int(power_levels.get("state_default", 50), 50)


def user_level(user_id: str, power_levels: Mapping[str, Any] | None, creators: set[str], room_version: str) -> float:
    if user_id in creators and has_creator_power(room_version):
        return INFINITE
    if power_levels is None:
        return 100 if user_id in creators else 0
    users = power_levels.get("users") or {}
    if user_id in users:
        return _as_int(users[user_id], 0)
    return _as_int(power_levels.get("users_default", 0), 0)


def room_admins(
    power_levels: Mapping[str, Any] | None,
    create_content: Mapping[str, Any],
    create_sender: str,
    room_version: str | None = None,
    members: Iterable[str] | None = None,
) -> set[str]:
    """The room admins among ``members``.

    Without ``members`` the candidates are the users named in ``users`` and the creators
    (a ``users_default`` high enough to make everyone admin cannot be enumerated then).
    """
    version = room_version or str(create_content.get("room_version", "1"))
    creators = room_creators(create_content, create_sender, version)
    if members is None:
        candidates = set((power_levels or {}).get("users") or {}) | creators
    else:
        candidates = set(members)
    needed = required_level(power_levels)
    return {u for u in candidates if user_level(u, power_levels, creators, version) >= needed}


def is_room_admin(
    user_id: str,
    power_levels: Mapping[str, Any] | None,
    create_content: Mapping[str, Any],
    create_sender: str,
    room_version: str | None = None,
) -> bool:
    version = room_version or str(create_content.get("room_version", "1"))
    creators = room_creators(create_content, create_sender, version)
    return user_level(user_id, power_levels, creators, version) >= required_level(power_levels)


@dataclass(frozen=True)
class RoomPowerState:
    """The state that decides who is a room admin, as fetched from the homeserver."""

    room_id: str
    room_version: str
    create_sender: str
    create_content: Mapping[str, Any]
    power_levels: Mapping[str, Any] | None
    members: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_state_events(cls, room_id: str, events: Iterable[Mapping[str, Any]]) -> RoomPowerState:
        create: Mapping[str, Any] = {}
        power_levels: Mapping[str, Any] | None = None
        members: set[str] = set()
        for ev in events:
            kind, key = ev.get("type"), ev.get("state_key")
            if kind == "m.room.create" and key == "":
                create = ev
            elif kind == POWER_LEVELS and key == "":
                power_levels = ev.get("content") or {}
            elif kind == "m.room.member" and (ev.get("content") or {}).get("membership") == "join":
                members.add(str(key))
        content = create.get("content") or {}
        return cls(
            room_id,
            str(content.get("room_version", "1")),
            str(create.get("sender", "")),
            content,
            power_levels,
            frozenset(members),
        )

    def admins(self) -> set[str]:
        return room_admins(self.power_levels, self.create_content, self.create_sender, self.room_version, self.members)

    def is_admin(self, user_id: str) -> bool:
        return is_room_admin(user_id, self.power_levels, self.create_content, self.create_sender, self.room_version)


class RoomAdminCache:
    """Fetches ``RoomPowerState`` per room (one ``/state`` request) and caches it.

    The full state is fetched rather than single state events because the create event's *sender*
    (a v12 creator) is not part of its content. An entry holds while nio's own view of the room (power
    levels, joined members, room version) is what it was when the entry was fetched: nio applies
    every state change it syncs, from a timeline or a sync's state block, so no event needs to be seen
    here, and a host that embeds the plugin keeps the cache right just by syncing.
    """

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._cache: dict[str, tuple[RoomPowerState, Any]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _view(self, room_id: str) -> Any:
        room = self._client.rooms.get(room_id)
        if room is None:
            return None
        joined = frozenset(room.users) - frozenset(room.invited_users)
        return (copy.deepcopy(room.power_levels), joined, room.room_version)

    def _cached(self, room_id: str) -> RoomPowerState | None:
        entry = self._cache.get(room_id)
        if entry is not None and entry[1] == self._view(room_id):
            return entry[0]
        return None

    async def state(self, room_id: str) -> RoomPowerState:
        cached = self._cached(room_id)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(room_id, asyncio.Lock())
        async with lock:
            cached = self._cached(room_id)
            if cached is not None:
                return cached
            view = self._view(room_id)
            resp = await self._client.room_get_state(room_id)
            if isinstance(resp, RoomGetStateError):
                raise LookupError(f"cannot read the state of {room_id}: {resp.message}")
            state = RoomPowerState.from_state_events(room_id, resp.events)
            self._cache[room_id] = (state, view)
            return state

    async def admins(self, room_id: str) -> set[str]:
        return (await self.state(room_id)).admins()

    async def is_admin(self, room_id: str, user_id: str) -> bool:
        return (await self.state(room_id)).is_admin(user_id)
