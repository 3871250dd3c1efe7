"""The rollup tables: how a written batch updates them in SQLite (`planning.py` picks which answers a report).

Every table holds the same additive sums. They differ in key and time bucket:

| table                 | key                                                     | bucket       |
| --------------------- | ------------------------------------------------------- | ------------ |
| `rollup_hourly`       | room, thread, agent, user, provider, model              | UTC hour     |
| `rollup_agent_hourly` | room, agent                                             | UTC hour     |
| `rollup_agent_daily`  | room, agent                                             | UTC day      |
| `rollup_room_hourly`  | room                                                    | UTC hour     |
| `rollup_room_daily`   | room                                                    | UTC day      |

The store updates all of them once per written batch, inside the batch's transaction, from the
events that the batch really inserted (`seq` above the largest before it: duplicates insert
nothing, so they never reach a rollup). That replaces the per-event trigger of migration 1, whose
one upsert per event per table was the bulk of the write cost.
"""

from __future__ import annotations

from ...fields import SUM_NAMES, SUMS
from ..batch import FINE_KEY, ROLLUP_KEYS
from ..planning import SUM_LIST as _SUM_LIST
from ..planning import rollup_query, rollup_tables, where_clause

_SUM_OF = ", ".join(f"sum({name})" for name in SUM_NAMES)
_INT64_MAX = 2**63 - 1


def _add(name: str) -> str:
    """A rollup cost that would pass 64 bits becomes NULL, which NOT NULL refuses: SQLite's `+` would
    silently turn it into an imprecise REAL. The writer then rejects the event at fault with its reason."""
    if name != "cost_pusd":
        return f"{name} = {name} + excluded.{name}"
    return (
        f"{name} = CASE WHEN excluded.{name} > {_INT64_MAX} - {name} THEN NULL"
        f" ELSE {name} + excluded.{name} END"
    )


_ADD = ", ".join(_add(name) for name in SUM_NAMES)
_FINE = ", ".join(FINE_KEY)

BATCH_TABLE = f"CREATE TEMP TABLE IF NOT EXISTS batch_rollup ({_FINE}, {_SUM_LIST})"


def _upsert(table: str, key: tuple[str, ...], select_key: tuple[str, ...]) -> str:
    cols = ", ".join(key)
    return (
        f"INSERT INTO {table} ({cols}, {_SUM_LIST})"
        f" SELECT {', '.join(select_key)}, {_SUM_OF} FROM temp.batch_rollup WHERE true"
        f" GROUP BY {', '.join(select_key)}"
        f" ON CONFLICT ({cols}) DO UPDATE SET {_ADD}"
    )


#: Run in order inside the writing transaction; the one `?` is the largest seq before the batch.
ROLLUP_UPDATES: tuple[str, ...] = (
    "DELETE FROM temp.batch_rollup",
    f"INSERT INTO temp.batch_rollup ({_FINE}, {_SUM_LIST})"
    f" SELECT {_FINE}, {', '.join(s.over_events for s in SUMS)} FROM events WHERE seq > ? GROUP BY {_FINE}",
    _upsert("rollup_hourly", FINE_KEY, FINE_KEY),
    _upsert("rollup_agent_hourly", ("room_id", "hour", "agent"), ("room_id", "hour", "agent")),
    _upsert("rollup_agent_daily", ("room_id", "day", "agent"), ("room_id", "hour / 24", "agent")),
    _upsert("rollup_room_hourly", ("hour", "room_id"), ("hour", "room_id")),
    _upsert("rollup_room_daily", ("day", "room_id"), ("hour / 24", "room_id")),
)


def _upsert_values(table: str, key: tuple[str, ...]) -> str:
    cols = ", ".join(key)
    marks = ", ".join("?" for _ in key + SUM_NAMES)
    return f"INSERT INTO {table} ({cols}, {_SUM_LIST}) VALUES ({marks}) ON CONFLICT ({cols}) DO UPDATE SET {_ADD}"


#: The same updates from sums computed in Python (`aggregate`), one executemany per table.
ROLLUP_UPSERTS: dict[str, str] = {table: _upsert_values(table, key) for table, key in ROLLUP_KEYS.items()}

__all__ = ["BATCH_TABLE", "ROLLUP_UPDATES", "ROLLUP_UPSERTS", "rollup_query", "rollup_tables", "where_clause"]
