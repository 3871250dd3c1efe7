"""Quotas set in rooms, kept beside the usage so that every process checking quotas sees them."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

import aiosqlite

from ..records import QuotaRow


class RoomQuotasMixin:
    """Mixed into a store that has `_conn` and `_write(sql, params)`."""

    _conn: aiosqlite.Connection
    _write: Callable[[str, Sequence], Awaitable[int]]

    async def room_quotas(self, room_ids: Sequence[str]) -> list[QuotaRow]:
        marks = ",".join("?" for _ in room_ids)
        sql = (
            "SELECT room_id, scope, name, window_kind, unit, limit_value, hard, disabled FROM quotas"
            f" WHERE room_id IN ({marks}) ORDER BY scope, name, window_kind"
        )
        async with self._conn.execute(sql, list(room_ids)) as cursor:
            rows = await cursor.fetchall()
        return [QuotaRow(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), bool(r[7])) for r in rows]

    async def set_room_quota(self, row: QuotaRow, set_by: str | None) -> None:
        await self._write(
            "INSERT INTO quotas (room_id, scope, name, window_kind, unit, limit_value, hard, disabled, set_by, set_ms)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (room_id, scope, name, window_kind) DO UPDATE SET"
            " unit = excluded.unit, limit_value = excluded.limit_value, hard = excluded.hard,"
            " disabled = excluded.disabled, set_by = excluded.set_by, set_ms = excluded.set_ms",
            (row.room_id, row.scope, row.name, row.window, row.unit, row.limit_value, int(row.hard),
             int(row.disabled), set_by, int(time.time() * 1000)),
        )  # fmt: skip

    async def copy_room_quotas(self, old_room_id: str, new_room_id: str) -> None:
        """A room upgrade: the new room inherits the quotas it does not have yet."""
        await self._write(
            "INSERT OR IGNORE INTO quotas (room_id, scope, name, window_kind, unit, limit_value, hard, disabled,"
            " set_by, set_ms) SELECT ?, scope, name, window_kind, unit, limit_value, hard, disabled, set_by, set_ms"
            " FROM quotas WHERE room_id = ?",
            (new_room_id, old_room_id),
        )
