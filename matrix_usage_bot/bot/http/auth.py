"""Who is asking: `Authorization: Bearer KEY` against the configured keys, and which rooms that allows.

Every key is compared in constant time (`hmac.compare_digest`, and every key is compared, so the time
does not tell which one nearly matched). Keys are never logged: the log names a key by its `name`.
Scope comes from the key, never from the request: a room outside the key's rooms is 403, and a
request without `room=` by a key limited to some rooms is answered over exactly those rooms.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from .settings import ApiKey

REQUEST_KEY: Any = web.RequestKey("usage_api_key", ApiKey) if hasattr(web, "RequestKey") else "usage_api_key"
"""Where the caller's key is kept on the request (aiohttp before 3.12 has no RequestKey)."""


def find_key(keys: Sequence[ApiKey], header: str | None) -> ApiKey | None:
    """The key of `Authorization: Bearer KEY`; the scheme in any case (RFC 7235: it is case-insensitive)."""
    scheme, _, credentials = (header or "").strip().partition(" ")
    given = credentials.strip().encode("utf-8", "surrogateescape")
    if scheme.lower() != "bearer" or not given:
        return None
    found = None
    for key in keys:
        if hmac.compare_digest(given, key.key.encode()) and found is None:
            found = key
    return found


class Forbidden(Exception):
    """A room outside the key's rooms, or a write by a key without ingest; answered 403."""


def may_see(key: ApiKey, room_id: str | None) -> bool:
    return key.rooms == "all" or (room_id is not None and room_id in key.rooms)


def within(key: ApiKey, room_id: str | None, field: str) -> None:
    """Forbidden unless the key covers the room (a call without a room: keys with rooms: all only)."""
    if not may_see(key, room_id):
        raise Forbidden(f"{field}: {room_id if room_id is not None else '(no room)'} is outside this key's rooms")


def room_scope(key: ApiKey, room_id: str | None) -> str | tuple[str, ...] | None:
    """The room filter of a read: the asked room if the key covers it, else the key's own rooms."""
    if room_id is not None:
        if not may_see(key, room_id):
            raise Forbidden(f"room {room_id} is outside this key's rooms")
        return room_id
    return None if key.rooms == "all" else tuple(key.rooms)
