"""Version 10: fewer rollup rows per event, and rollup rows that concurrent writers never share.

- The room and agent rollups are kept per UTC hour and per UTC day, not per quarter hour: whole hours of a
  report come from them, the quarter hours around them from the fine table (which keeps quarter hours, so
  every local period stays exact). Operations are kept per room and UTC hour. Latency histograms are kept
  per UTC day (the parts of a day at a period's edges come from the raw events while retention keeps them).
- Every rollup key ends with `shard`: a PostgreSQL writer adds its sums to rows of its own shard only (an
  advisory lock per shard, held by one connection at a time), so no two writers ever update the same row;
  readers sum over shards as over any column they do not group by. SQLite's single writer uses shard 0.
- Old rows keep every total: quarter hours summed into their hour, hours into their day.

Also the latest schema whole (`fresh`), for a new store: the same tables, created in one step.
"""

from __future__ import annotations

from dataclasses import replace

from .declare import Column, Dialect, Table, counts, index, text, with_columns
from .upgrades import upgrade_table
from .v01_07 import (
    APP_ROW,
    CLAIMS,
    EVENTS_INDEXES,
    META,
    QUOTA_RULES,
    REJECTED_EVENTS,
    RESERVATIONS,
    ROOM_VALUES,
    events_v1,
)
from .v08 import V8_COUNTERS, V8_SUMS
from .v09 import events_v9

_SHARD = Column("shard", default="0")
_EVENTS_INDEXES = (*EVENTS_INDEXES, index("events", "events_room_event", "room_id", "event_id", unique=True))
_ROOM, _AGENT, _PROVIDER, _MODEL = text("room_id"), text("agent"), text("provider"), text("model")
_SLOT, _HOUR, _DAY, _BUCKET = (Column(name) for name in ("slot", "hour", "day", "bucket"))


def _rollup(name: str, key: tuple[Column, ...], *indexes: tuple[str, ...], sums: tuple[str, ...] = V8_SUMS) -> Table:
    named = tuple(index(name, *spec) for spec in indexes)
    keys = (*(c.name for c in key), "shard")
    return Table(name, (*key, *counts(*sums), _SHARD), keys, rowid=False, indexes=named)


ROLLUPS = {
    "rollup_slots": _rollup("rollup_slots", (_ROOM, _SLOT, text("thread_id"), _AGENT, text("user_id"), _PROVIDER,
                                             _MODEL, text("source")),
                            ("rollup_slots_slot", "slot"), ("rollup_slots_user", "user_id", "slot"),
                            ("rollup_slots_thread", "thread_id", "slot")),
    "rollup_room_hourly": _rollup("rollup_room_hourly", (_HOUR, _ROOM)),
    "rollup_agent_hourly": _rollup("rollup_agent_hourly", (_ROOM, _HOUR, _AGENT), ("rollup_agent_hourly_hour", "hour")),
    "rollup_operation_hourly": _rollup("rollup_operation_hourly", (_ROOM, _HOUR, text("operation"))),
    "rollup_room_daily": _rollup("rollup_room_daily", (_DAY, _ROOM)),
    "rollup_agent_daily": _rollup("rollup_agent_daily", (_ROOM, _DAY, _AGENT), ("rollup_agent_daily_day", "day")),
    "rollup_latency_daily": _rollup("rollup_latency_daily", (_ROOM, _DAY, _PROVIDER, _MODEL, _BUCKET),
                                    sums=("calls",)),
}  # fmt: skip


def _rebuilt(d: Dialect, table: Table, select: str) -> list[str]:
    """The table created anew from `select` (its columns in order), in place of the table of that name."""
    created = d.create(table)
    staged = created[0].replace(f"CREATE TABLE {table.name} ", f"CREATE TABLE {table.name}_v10 ", 1)
    statements = [staged, f"INSERT INTO {table.name}_v10 {select}", f"DROP TABLE {table.name}",
                  f"ALTER TABLE {table.name}_v10 RENAME TO {table.name}"]  # fmt: skip
    if d.name == "postgresql":
        statements.append(f"ALTER TABLE {table.name} RENAME CONSTRAINT {table.name}_v10_pkey TO {table.name}_pkey")
    return statements + created[1:]


def _summed(d: Dialect, table: Table, old: str, grain: dict[str, str]) -> list[str]:
    """The new table filled from an old one by its key, some key columns coarsened (`grain`: column to SQL)."""
    key = [grain.get(name, name) for name in table.key[:-1]]
    sums = [c.name for c in table.columns if c.kind == "count" and c.name not in (*table.key, "shard")]
    select = f"SELECT {', '.join(key)}, {', '.join(f'sum({s})' for s in sums)}, 0 FROM {old} GROUP BY {', '.join(key)}"
    if old == table.name:
        return _rebuilt(d, table, select)
    return [*d.create(table), f"INSERT INTO {table.name} {select}", f"DROP TABLE {old}"]


def _fine(d: Dialect) -> list[str]:
    """The fine table with `shard` last in its key (PostgreSQL adds the column; SQLite rebuilds the table)."""
    table = ROLLUPS["rollup_slots"]
    if d.name == "sqlite":
        return _summed(d, table, "rollup_slots", {})
    return [d.add_column("rollup_slots", _SHARD), "ALTER TABLE rollup_slots DROP CONSTRAINT rollup_slots_pkey",
            f"ALTER TABLE rollup_slots ADD PRIMARY KEY ({', '.join(table.key)})"]  # fmt: skip


@upgrade_table.register(10, "room, agent and operation rollups per hour and day, latency per day; writer shards")
def v10(d: Dialect) -> list[str]:
    by_hour = {"hour": "slot / 4"}
    return [
        *_fine(d),
        *_summed(d, ROLLUPS["rollup_room_hourly"], "rollup_room_slots", by_hour),
        *_summed(d, ROLLUPS["rollup_agent_hourly"], "rollup_agent_slots", by_hour),
        *_summed(d, ROLLUPS["rollup_operation_hourly"], "rollup_operation_slots", by_hour),
        *_summed(d, ROLLUPS["rollup_room_daily"], "rollup_room_daily", {}),
        *_summed(d, ROLLUPS["rollup_agent_daily"], "rollup_agent_daily", {}),
        *_summed(d, ROLLUPS["rollup_latency_daily"], "rollup_latency_hourly", {"day": "hour / 24"}),
    ]


def events_postgresql() -> Table:
    """PostgreSQL's events table as its history left it (its columns in the order they were added)."""
    v1 = events_v1()
    columns = [Column(c.name, c.kind, c.null, c.default, c.check) for c in v1.columns]  # no UNIQUE (version 9)
    return with_columns(
        Table("events", tuple(columns), indexes=_EVENTS_INDEXES),
        Column("cache_write_1h_tokens", default="0", check=True), *counts(*V8_COUNTERS, default="0", check=True),
        text("usage_source", default="'provider'"), *counts("input_cost_pusd", "output_cost_pusd", null=True),
        text("source", default="'unknown'"),
    )  # fmt: skip


@upgrade_table.register(10, "the latest schema, for a new store", fresh=True)
def latest(d: Dialect) -> list[str]:
    events = replace(events_v9(), indexes=_EVENTS_INDEXES) if d.name == "sqlite" else events_postgresql()
    reservations = with_columns(RESERVATIONS, text("source", default="'tracker'"))
    tables = (META, events, *ROLLUPS.values(), REJECTED_EVENTS, QUOTA_RULES, CLAIMS, ROOM_VALUES, reservations)
    return [*(s for table in tables for s in d.create(table)), APP_ROW]
