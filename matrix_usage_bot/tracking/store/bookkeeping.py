"""Claims and per-room values: small bookkeeping that the store keeps for its users without knowing
what it means (the bot keeps there the warnings it sent, the digests it posted, the commands it answered).

A claim is a key taken once: `claim` is True for the first caller only, across processes and restarts,
which is what makes "post once" hold when two processes race for the same warning.
"""

from __future__ import annotations

import time

from .statements import Statements


def _now_ms() -> int:
    return int(time.time() * 1000)


class BookkeepingMixin(Statements):
    """Mixed into a store: the SQL is the dialect SQLite and PostgreSQL share."""

    async def claim(self, kind: str, key: str, room_id: str | None = None) -> bool:
        inserted = await self._write(
            "INSERT INTO claims (kind, key, room_id, claimed_ms) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (kind, key, room_id, _now_ms()),
        )
        return inserted == 1

    async def release(self, kind: str, key: str) -> None:
        await self._write("DELETE FROM claims WHERE kind = ? AND key = ?", (kind, key))

    async def claimed(self, kind: str, room_id: str | None = None) -> list[str]:
        """The keys of `kind` claimed (in `room_id` only, when given), oldest first."""
        sql, params = "SELECT key FROM claims WHERE kind = ?", [kind]
        if room_id is not None:
            sql, params = sql + " AND room_id = ?", [kind, room_id]
        return [str(r[0]) for r in await self._fetchall(sql + " ORDER BY claimed_ms, key", params)]

    async def forget_claims(self, kind: str, before_ms: int) -> int:
        """Drop the claims of `kind` taken before `before_ms`; returns how many."""
        return await self._write("DELETE FROM claims WHERE kind = ? AND claimed_ms < ?", (kind, before_ms))

    async def room_values(self, name: str) -> dict[str, str]:
        """Every room's value of `name`."""
        rows = await self._fetchall("SELECT room_id, value FROM room_values WHERE name = ?", (name,))
        return {str(r[0]): str(r[1]) for r in rows}

    async def set_room_value(self, room_id: str, name: str, value: str | None) -> None:
        """Set (or with None, remove) a room's value of `name`."""
        if value is None:
            await self._write("DELETE FROM room_values WHERE room_id = ? AND name = ?", (room_id, name))
            return
        await self._write(
            "INSERT INTO room_values (room_id, name, value, set_ms) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (room_id, name) DO UPDATE SET value = excluded.value, set_ms = excluded.set_ms",
            (room_id, name, value, _now_ms()),
        )
