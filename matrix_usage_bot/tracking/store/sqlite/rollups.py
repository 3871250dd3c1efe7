"""How a written batch adds its sums to SQLite's rollup tables (`batch.py` lists them and computes the sums;
`planning.py` picks which table answers a report).

The store adds the sums of each batch once, inside the batch's transaction, from the events the batch really
inserted (duplicates insert nothing, so they never reach a rollup): one upsert per rollup row, one
`executemany` per table. SQLite has one writer at a time, so every row is shard 0.
"""

from __future__ import annotations

from ...fields import COST_SUMS
from ..batch import ROLLUP_KEYS, SHARD, rollup_sums

_INT64_MAX = 2**63 - 1


def _add(name: str) -> str:
    """A rollup cost that would pass 64 bits becomes NULL, which NOT NULL refuses: SQLite's `+` would
    silently turn it into an imprecise REAL. The writer then rejects the event at fault with its reason."""
    if name not in COST_SUMS:
        return f"{name} = {name} + excluded.{name}"
    return (
        f"{name} = CASE WHEN excluded.{name} > {_INT64_MAX} - {name} THEN NULL"
        f" ELSE {name} + excluded.{name} END"
    )


def _upsert_values(table: str, key: tuple[str, ...], sums: tuple[str, ...]) -> str:
    marks = ", ".join("?" for _ in key + sums)
    keys = ", ".join((*key, SHARD))
    return (f"INSERT INTO {table} ({', '.join(key)}, {', '.join(sums)}, {SHARD}) VALUES ({marks}, 0)"
            f" ON CONFLICT ({keys}) DO UPDATE SET {', '.join(_add(name) for name in sums)}")  # fmt: skip


ROLLUP_UPSERTS: dict[str, str] = {
    table: _upsert_values(table, key, rollup_sums(table)) for table, key in ROLLUP_KEYS.items()
}
"""One upsert per rollup table, for the rows `batch.aggregate` computes (negated ones too)."""
