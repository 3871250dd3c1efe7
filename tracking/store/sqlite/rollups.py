"""The rollup tables: how a written batch updates them in SQLite (`planning.py` picks which answers a report).

Every table holds the same additive sums. They differ in key and time bucket:

| table                    | key                                                        | bucket            |
| ------------------------ | ---------------------------------------------------------- | ----------------- |
| `rollup_slots`           | room, thread, agent, user, provider, model, source         | quarter hour      |
| `rollup_agent_slots`     | room, agent                                                | quarter hour      |
| `rollup_agent_daily`     | room, agent                                                | UTC day           |
| `rollup_room_slots`      | room                                                       | quarter hour      |
| `rollup_room_daily`      | room                                                       | UTC day           |
| `rollup_operation_slots` | room, operation                                            | quarter hour      |
| `rollup_latency_hourly`  | room, provider, model, latency bucket (calls only)         | UTC hour          |

A quarter hour is a slot of `tracking.slots` (`ts_ms // 900000`): every local midnight and clock hour of
every timezone starts on one.

The store updates all of them once per written batch, inside the batch's transaction, from the
events that the batch really inserted (`seq` above the largest before it: duplicates insert
nothing, so they never reach a rollup). That replaces the per-event trigger of migration 1, whose
one upsert per event per table was the bulk of the write cost.
"""

from __future__ import annotations

from ...fields import COST_SUMS, SUM_NAMES
from ..batch import ROLLUP_KEYS, rollup_sums

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


_ADD = ", ".join(_add(name) for name in SUM_NAMES)


def _upsert_values(table: str, key: tuple[str, ...], sums: tuple[str, ...] = SUM_NAMES) -> str:
    cols = ", ".join(key)
    marks = ", ".join("?" for _ in key + sums)
    add = _ADD if sums == SUM_NAMES else ", ".join(f"{n} = {n} + excluded.{n}" for n in sums)
    return f"INSERT INTO {table} ({cols}, {', '.join(sums)}) VALUES ({marks}) ON CONFLICT ({cols}) DO UPDATE SET {add}"


#: One upsert per rollup table, from the sums `batch.aggregate` computes; one executemany per table.
ROLLUP_UPSERTS: dict[str, str] = {
    table: _upsert_values(table, key, rollup_sums(table)) for table, key in ROLLUP_KEYS.items()
}
