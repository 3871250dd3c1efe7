"""Changing stored usage after the fact (`usage-bot delete`, `usage-bot forget`): one transaction per command.

A store opens it with `_changes()`: writers of every process wait until it ends (SQLite: `BEGIN IMMEDIATE`;
PostgreSQL: `LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE`, which every insert, update or delete of events
waits on, while reads go on), and it commits whole or not at all, so a command killed at any point leaves the
store as it was before it, and readers see it before or after, never between. The rollups change through the
writer's own upserts (`Changes.add_rollups`, the sums signed: `batch.signed`; into writer shard 0, as no writer
holds a rollup row meanwhile), and a rollup key whose rows, summed over the shards, reach zero calls goes
(`apply_rollups`), so every rollup stays what a GROUP BY over the events it sums would give.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .batch import ROLLUP_KEYS

PAGE = 10_000
"""Events a command reads, changes and sums at a time inside its one transaction: memory stays bounded."""


class Changes(Protocol):
    """The transaction of `Store._changes()`; the SQL is the shared dialect (`?` placeholders)."""

    async def fetch(self, sql: str, params: Sequence = ()) -> list[tuple]:
        """The rows of a statement (`DELETE ... RETURNING` included)."""
        ...

    async def run(self, sql: str, params: Sequence = ()) -> int:
        """A statement's count of rows changed."""
        ...

    async def run_many(self, sql: str, rows: Sequence[Sequence]) -> None: ...

    async def add_rollups(self, sums: dict[str, list[tuple]]) -> None:
        """Add rollup rows (`batch.aggregate`'s shape; sums may be negative) with the writer's upserts."""
        ...


def _prune(table: str) -> str:
    """Delete a key's rows in every writer shard once, summed over the shards, they hold no call."""
    same = " AND ".join(f"{k} = ?" for k in ROLLUP_KEYS[table])
    return f"DELETE FROM {table} WHERE {same} AND (SELECT sum(calls) FROM {table} WHERE {same}) = 0"


_PRUNE = {table: _prune(table) for table in ROLLUP_KEYS}


async def apply_rollups(changes: Changes, sums: dict[str, list[tuple]]) -> None:
    """Add signed rollup rows, then drop the rows among them left with no call (a breakdown would list them)."""
    await changes.add_rollups(sums)
    for table, rows in sums.items():
        taken = [row[: len(ROLLUP_KEYS[table])] for row in rows if row[len(ROLLUP_KEYS[table])] < 0]
        if taken:
            await changes.run_many(_PRUNE[table], [key + key for key in taken])
