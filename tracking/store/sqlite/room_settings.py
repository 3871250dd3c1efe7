"""Per-room settings kept beside the usage: quotas set in rooms, warnings already sent, digests."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

import aiosqlite

from ..records import DigestRow, QuotaRow


class RoomSettingsMixin:
    """Mixed into a store that has `_conn`, `_write_lock` and `_write(sql, params)`."""

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

    async def copy_room_settings(self, old_room_id: str, new_room_id: str) -> None:
        """A room upgrade: the new room inherits quotas and digest settings it does not have yet."""
        await self._write(
            "INSERT OR IGNORE INTO quotas (room_id, scope, name, window_kind, unit, limit_value, hard, disabled,"
            " set_by, set_ms) SELECT ?, scope, name, window_kind, unit, limit_value, hard, disabled, set_by, set_ms"
            " FROM quotas WHERE room_id = ?",
            (new_room_id, old_room_id),
        )
        await self._write(
            "INSERT OR IGNORE INTO digests (room_id, enabled, at, last_posted)"
            " SELECT ?, enabled, at, last_posted FROM digests WHERE room_id = ?",
            (new_room_id, old_room_id),
        )

    async def claim_warning(self, quota_key: str, period_start: str, threshold: int, room_id: str) -> bool:
        """Mark a warning as sent; False if it was sent before (restarts included)."""
        inserted = await self._write(
            "INSERT OR IGNORE INTO quota_warnings (quota_key, period_start, threshold, room_id, fired_ms)"
            " VALUES (?, ?, ?, ?, ?)",
            (quota_key, period_start, threshold, room_id, int(time.time() * 1000)),
        )
        return inserted == 1

    async def release_warning(self, quota_key: str, period_start: str, threshold: int) -> None:
        """Undo ``claim_warning`` for a warning the homeserver did not accept."""
        await self._write(
            "DELETE FROM quota_warnings WHERE quota_key = ? AND period_start = ? AND threshold = ?",
            (quota_key, period_start, threshold),
        )

    async def digest_settings(self) -> list[DigestRow]:
        async with self._conn.execute("SELECT room_id, enabled, at, last_posted FROM digests") as cursor:
            return [DigestRow(r[0], bool(r[1]), r[2], r[3]) for r in await cursor.fetchall()]

    async def set_digest(self, room_id: str, enabled: bool, at: str) -> None:
        await self._write(
            "INSERT INTO digests (room_id, enabled, at) VALUES (?, ?, ?)"
            " ON CONFLICT (room_id) DO UPDATE SET enabled = excluded.enabled, at = excluded.at",
            (room_id, int(enabled), at),
        )

    async def claim_digest(self, room_id: str, day: str) -> bool:
        """Mark the digest of `day` as posted in the room; False if it already was."""
        changed = await self._write(
            "UPDATE digests SET last_posted = ? WHERE room_id = ? AND (last_posted IS NULL OR last_posted < ?)",
            (day, room_id, day),
        )
        return changed == 1

    async def release_digest(self, room_id: str, day: str) -> None:
        """Undo ``claim_digest`` for a digest the homeserver did not accept."""
        await self._write(
            "UPDATE digests SET last_posted = NULL WHERE room_id = ? AND last_posted = ?", (room_id, day)
        )
