"""SQLite's side of `store.changes`: statements run on the connection inside its immediate transaction."""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from .rollups import ROLLUP_UPSERTS


async def add_rollups(conn: aiosqlite.Connection, sums: dict[str, list[tuple]]) -> None:
    """Add rollup rows (sums as `batch.aggregate` gives them, or signed) with one upsert per table."""
    for table, values in sums.items():
        if values:
            await conn.executemany(ROLLUP_UPSERTS[table], values)


class SQLiteChanges:
    """A `store.changes.Changes` on a connection inside a transaction; called, it is a `statements.Run`."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def __call__(self, sql: str, params: Sequence = ()) -> int:
        return await self.run(sql, params)

    async def fetch(self, sql: str, params: Sequence = ()) -> list[tuple]:
        async with self._conn.execute(sql, params) as cursor:
            return [tuple(r) for r in await cursor.fetchall()]

    async def run(self, sql: str, params: Sequence = ()) -> int:
        return (await self._conn.execute(sql, params)).rowcount

    async def run_many(self, sql: str, rows: Sequence[Sequence]) -> None:
        if rows:
            await self._conn.executemany(sql, rows)

    async def add_rollups(self, sums: dict[str, list[tuple]]) -> None:
        await add_rollups(self._conn, sums)
