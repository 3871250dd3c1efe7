"""PostgreSQL's side of `store.changes`: statements run on one cursor inside the command's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .copying import copy_rows
from .dialect import EMPTY_STAGED, ROLLUP_WRITES, pg


async def add_rollups(cur: Any, sums: dict[str, list[tuple]], shard: int) -> None:
    """Add rollup rows (sums as `batch.aggregate` gives them, or signed) to the rows of `shard`: each table's
    rows copied into its staging table, then one upsert, the tables in `ROLLUP_KEYS` order and each table's
    rows in key order. The staging tables are empty at a transaction's start, and keep these rows to its end."""
    for table, write in ROLLUP_WRITES.items():
        if rows := sums.get(table):
            await copy_rows(cur, write.copy, rows)
            await cur.execute(write.upsert, (shard,))


class PostgresChanges:
    """A `store.changes.Changes` on a cursor inside a transaction; called, it is a `statements.Run`."""

    def __init__(self, cur: Any) -> None:
        self._cur = cur

    async def __call__(self, sql: str, params: Sequence = ()) -> int:
        return await self.run(sql, params)

    async def fetch(self, sql: str, params: Sequence = ()) -> list[tuple]:
        await self._cur.execute(pg(sql, params), params or None)
        return [tuple(r) for r in await self._cur.fetchall()]

    async def run(self, sql: str, params: Sequence = ()) -> int:
        await self._cur.execute(pg(sql, params), params or None)
        return int(self._cur.rowcount)

    async def run_many(self, sql: str, rows: Sequence[Sequence]) -> None:
        if rows:
            await self._cur.executemany(pg(sql, rows[0]), rows)

    async def add_rollups(self, sums: dict[str, list[tuple]]) -> None:
        """Into shard 0: no writer holds a rollup row while events are locked (`store.changes`). A command
        adds rollups page after page in one transaction: the rows staged for the last page go first."""
        await self._cur.execute(EMPTY_STAGED)
        await add_rollups(self._cur, sums, 0)
