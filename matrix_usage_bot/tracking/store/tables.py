"""The small tables a store keeps for its users (quotas, claims, room values), read and written whole:
what `usage-bot migrate` copies beside the events. Rows already in the target are kept as they are."""

from __future__ import annotations

from collections.abc import Sequence

from .statements import Statements

COPIED_TABLES: dict[str, tuple[str, ...]] = {
    "quota_rules": ("place", "scope", "name", "window_kind", "unit", "limit_value", "hard", "disabled", "set_by",
                    "set_ms"),
    "claims": ("kind", "key", "room_id", "claimed_ms"),
    "room_values": ("room_id", "name", "value", "set_ms"),
}  # fmt: skip
"""Each table's columns, its primary key first: a row is the same row in any store when its key is."""


class TablesMixin(Statements):
    """Mixed into a store: the SQL is the dialect SQLite and PostgreSQL share."""

    async def export_rows(self, table: str) -> list[tuple]:
        """Every row of one of COPIED_TABLES, in its columns' order."""
        return await self._fetchall(f"SELECT {', '.join(COPIED_TABLES[table])} FROM {table} ORDER BY 1, 2")

    async def import_rows(self, table: str, rows: Sequence[tuple]) -> int:
        """Insert rows of one of COPIED_TABLES that are not there yet (by primary key); returns how many were new."""
        if not rows:
            return 0
        columns = COPIED_TABLES[table]
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) ON CONFLICT DO NOTHING"
        before = (await self._fetchall(f"SELECT count(*) FROM {table}"))[0][0]
        await self._write_many(sql, rows)
        return int((await self._fetchall(f"SELECT count(*) FROM {table}"))[0][0]) - int(before)
