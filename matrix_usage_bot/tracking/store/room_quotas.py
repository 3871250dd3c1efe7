"""Quotas set in rooms (or for all rooms), kept beside the usage so every process checking quotas sees them."""

from __future__ import annotations

import time
from collections.abc import Sequence

from .records import QuotaRow
from .statements import Statements

_COLUMNS = "place, scope, name, window_kind, unit, limit_value, hard, disabled, set_by, set_ms"


class RoomQuotasMixin(Statements):
    """Mixed into a store: the SQL is the dialect SQLite and PostgreSQL share."""

    async def quota_rows(self, places: Sequence[str]) -> list[QuotaRow]:
        """The quotas set in these places (room ids, or EVERYWHERE), cleared ones included."""
        marks = ",".join("?" for _ in places)
        sql = (
            "SELECT place, scope, name, window_kind, unit, limit_value, hard, disabled FROM quota_rules"
            f" WHERE place IN ({marks}) ORDER BY place, scope, name, window_kind, unit"
        )
        rows = await self._fetchall(sql, list(places))
        return [QuotaRow(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), bool(r[7])) for r in rows]

    async def set_quota(self, row: QuotaRow, set_by: str | None) -> None:
        await self._write(
            f"INSERT INTO quota_rules ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (place, scope, name, window_kind, unit) DO UPDATE SET"
            " limit_value = excluded.limit_value, hard = excluded.hard,"
            " disabled = excluded.disabled, set_by = excluded.set_by, set_ms = excluded.set_ms",
            (row.place, row.scope, row.name, row.window, row.unit, row.limit_value, int(row.hard),
             int(row.disabled), set_by, int(time.time() * 1000)),
        )  # fmt: skip

    async def copy_room_quotas(self, old_room_id: str, new_room_id: str) -> None:
        """A room upgrade: the new room inherits the quotas it does not have yet."""
        await self._write(
            f"INSERT INTO quota_rules ({_COLUMNS}) SELECT ?, scope, name, window_kind, unit,"
            " limit_value, hard, disabled, set_by, set_ms FROM quota_rules WHERE place = ? ON CONFLICT DO NOTHING",
            (new_room_id, old_room_id),
        )
