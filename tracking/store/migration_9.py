"""Migration 9, for both stores: one declaration, written out in each dialect (`sql("sqlite")`, `sql("postgresql")`).

Frozen once released, like every migration: its names and columns are spelled out here, never taken from the
shared constants (which change with later versions); tests/tracking/test_migration_9.py pins the SQL it writes.

- `event_id` is unique within a room, not across the store (the same id in another room is another event):
  a unique index on (room_id, event_id) replaces the column's own UNIQUE (SQLite cannot drop that: its events
  table is rebuilt, rows and `seq` kept).
- Every event has a `source`: the HTTP key that posted it, or the entry point (`tracker`, `ingest`, `mindroom`).
  Events stored before this version get 'unknown' (nothing in them tells the entry point for sure), and the
  reservations a `source` too ('tracker': only trackers took them before).
- The sum rollups are kept per quarter-hour slot (`slot` = ts_ms // 900000, see `tracking.slots`) instead of
  per UTC hour, and the finest one carries `source` in its key: `rollup_slots`, `rollup_agent_slots`,
  `rollup_room_slots`, `rollup_operation_slots` replace `rollup_hourly`, `rollup_agent_hourly`,
  `rollup_room_hourly`, `rollup_operation_hourly`. An hour of a room whose raw events are all still there
  (their count is the calls of its fine rollup rows) is summed again from them, slot by slot; an older hour
  (retention deleted its events) keeps its totals, in its first slot: it keeps hour precision. The daily
  tables (per UTC day) and the latency histograms (per UTC hour) stay as they were. Every total is kept.
"""

from __future__ import annotations

from typing import Literal

Dialect = Literal["sqlite", "postgresql"]

_SUMS = ("calls", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens",
         "reasoning_tokens", "input_audio_tokens", "output_audio_tokens", "input_image_tokens", "output_image_tokens",
         "web_searches", "cost_pusd", "unpriced_calls", "error_calls", "estimated_calls", "input_cost_pusd",
         "output_cost_pusd")  # fmt: skip
_COUNTED = {"unpriced_calls": "cost_pusd IS NULL", "error_calls": "status = 'error'",
            "estimated_calls": "usage_source = 'estimated'"}  # fmt: skip
_TABLES = (  # (hourly table, the slot table replacing it, its key: the hourly key with `slot` for `hour`, + `source`)
    ("rollup_hourly", "rollup_slots",
     ("room_id", "slot", "thread_id", "agent", "user_id", "provider", "model", "source")),
    ("rollup_agent_hourly", "rollup_agent_slots", ("room_id", "slot", "agent")),
    ("rollup_room_hourly", "rollup_room_slots", ("slot", "room_id")),
    ("rollup_operation_hourly", "rollup_operation_slots", ("room_id", "slot", "operation")),
)
_INDEXES = (
    "CREATE INDEX rollup_slots_slot ON rollup_slots (slot)",
    "CREATE INDEX rollup_slots_user ON rollup_slots (user_id, slot)",
    "CREATE INDEX rollup_slots_thread ON rollup_slots (thread_id, slot)",
    "CREATE INDEX rollup_agent_slots_slot ON rollup_agent_slots (slot)",
    "CREATE INDEX rollup_operation_slots_slot ON rollup_operation_slots (slot)",
    "CREATE UNIQUE INDEX events_room_event ON events (room_id, event_id)",
)
_COUNTERS_CHECKED = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
                     "cache_write_1h_tokens", "input_audio_tokens", "output_audio_tokens", "input_image_tokens",
                     "output_image_tokens", "web_searches")  # fmt: skip
_EVENT_COLUMNS = ("seq", "event_id", "ts_ms", "hour", "room_id", "thread_id", "agent", "user_id", "session_id",
                  "operation", "provider", "model", *_COUNTERS_CHECKED, "cost_pusd", "latency_ms", "status", "metadata",
                  "usage_source", "input_cost_pusd", "output_cost_pusd")  # fmt: skip


def _sqlite_events() -> list[str]:
    """SQLite's events table again, without UNIQUE (event_id) and with `source`; rows and `seq` kept."""
    text = ("event_id", "room_id", "thread_id", "agent", "user_id", "operation", "provider", "model", "status")
    columns = ["seq INTEGER PRIMARY KEY"]
    for name in _EVENT_COLUMNS[1:]:
        if name in _COUNTERS_CHECKED:
            columns.append(f"{name} INTEGER NOT NULL DEFAULT 0 CHECK ({name} >= 0)")
        elif name in text:
            columns.append(f"{name} TEXT NOT NULL")
        elif name == "usage_source":
            columns.append("usage_source TEXT NOT NULL DEFAULT 'provider'")
        elif name == "latency_ms":
            columns.append("latency_ms REAL")
        elif name in ("session_id", "metadata"):
            columns.append(f"{name} TEXT")
        else:
            columns.append(f"{name} INTEGER{' NOT NULL' if name in ('ts_ms', 'hour') else ''}")
    columns.append("source TEXT NOT NULL DEFAULT 'unknown'")
    names = ", ".join(_EVENT_COLUMNS)
    return [
        f"CREATE TABLE events_v9 ({', '.join(columns)})",
        f"INSERT INTO events_v9 ({names}) SELECT {names} FROM events",
        "DROP TABLE events",
        "ALTER TABLE events_v9 RENAME TO events",
        "CREATE INDEX events_room_ts ON events (room_id, ts_ms)",
        "CREATE INDEX events_ts ON events (ts_ms)",
    ]


def _postgres_events() -> list[str]:
    return [
        "ALTER TABLE events ADD COLUMN source TEXT NOT NULL DEFAULT 'unknown'",
        "ALTER TABLE events DROP CONSTRAINT events_event_id_key",
    ]


def _over_events(name: str, dialect: Dialect) -> str:
    if name == "calls":
        return "count(*)"
    if name in _COUNTED:
        return f"sum({_COUNTED[name]})" if dialect == "sqlite" else f"sum(({_COUNTED[name]})::int)"
    return f"sum(coalesce({name}, 0))" if name.endswith("_pusd") else f"sum({name})"


def _convert(old: str, new: str, new_key: tuple[str, ...], dialect: Dialect) -> list[str]:
    integer = "INTEGER" if dialect == "sqlite" else "BIGINT"
    columns = [f"{c} {integer if c == 'slot' else 'TEXT'} NOT NULL" for c in new_key]
    columns += [f"{s} {integer} NOT NULL" for s in _SUMS]
    rowid = " WITHOUT ROWID" if dialect == "sqlite" else ""
    into = f"INSERT INTO {new} ({', '.join(new_key)}, {', '.join(_SUMS)})"
    kept = {"slot": "hour * 4", "source": "'unknown'"}
    from_old = ", ".join(kept.get(c, c) for c in new_key)
    summed = ", ".join("ts_ms / 900000" if c == "slot" else c for c in new_key)
    complete = "SELECT 1 FROM migration_9_complete_hours c WHERE c.room_id = t.room_id AND c.hour = t.hour"
    return [
        f"CREATE TABLE {new} ({', '.join(columns)}, PRIMARY KEY ({', '.join(new_key)})){rowid}",
        f"{into} SELECT {from_old}, {', '.join(_SUMS)} FROM {old} t WHERE NOT EXISTS ({complete})",
        f"{into} SELECT {summed}, {', '.join(_over_events(s, dialect) for s in _SUMS)} FROM events t"
        f" WHERE EXISTS ({complete}) GROUP BY {summed}",
        f"DROP TABLE {old}",
    ]


def sql(dialect: Dialect) -> str:
    """The migration as one script of `;`-terminated statements."""
    integer = "INTEGER" if dialect == "sqlite" else "BIGINT"
    statements = _sqlite_events() if dialect == "sqlite" else _postgres_events()
    statements += [
        "ALTER TABLE reservations ADD COLUMN source TEXT NOT NULL DEFAULT 'tracker'",
        f"CREATE TEMP TABLE migration_9_complete_hours (room_id TEXT NOT NULL, hour {integer} NOT NULL,"
        " PRIMARY KEY (room_id, hour))",
        "INSERT INTO migration_9_complete_hours (room_id, hour) SELECT r.room_id, r.hour"
        " FROM (SELECT room_id, hour, sum(calls) AS calls FROM rollup_hourly GROUP BY room_id, hour) r"
        " JOIN (SELECT room_id, hour, count(*) AS calls FROM events GROUP BY room_id, hour) e"
        " ON e.room_id = r.room_id AND e.hour = r.hour AND e.calls = r.calls",
    ]
    for old, new, new_key in _TABLES:
        statements += _convert(old, new, new_key, dialect)
    statements += [*_INDEXES, "DROP TABLE migration_9_complete_hours"]
    return "".join(f"\n    {statement};" for statement in statements) + "\n"
