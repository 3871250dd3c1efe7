"""Version 9, as released (frozen).

- `event_id` is unique within a room, not across the store (the same id in another room is another event):
  a unique index on (room_id, event_id) replaces the column's own UNIQUE (SQLite cannot drop that: its events
  table is rebuilt, rows and `seq` kept).
- Every event has a `source`: the HTTP key that posted it, or the entry point (`tracker`, `ingest`, `mindroom`).
  Events stored before this version get 'unknown', and the reservations a `source` too ('tracker').
- The sum rollups are kept per quarter-hour slot (`slot` = ts_ms // 900000) instead of per UTC hour, and the
  finest one carries `source` in its key. An hour of a room whose raw events are all still there (their count
  is the calls of its fine rollup rows) is summed again from them, slot by slot; an older hour (retention
  deleted its events) keeps its totals, in its first slot. The daily tables and the latency histograms stay.
"""

from __future__ import annotations

from .declare import Column, Dialect, Table, counts, index, text
from .upgrades import upgrade_table
from .v01_07 import EVENTS_INDEXES
from .v08 import V8_SUMS

_COUNTED = {"unpriced_calls": "cost_pusd IS NULL", "error_calls": "status = 'error'",
            "estimated_calls": "usage_source = 'estimated'"}  # fmt: skip
SLOT_TABLES = (  # (hourly table, the slot table replacing it, its key: the hourly key with `slot` for `hour`, + source)
    ("rollup_hourly", "rollup_slots",
     ("room_id", "slot", "thread_id", "agent", "user_id", "provider", "model", "source")),
    ("rollup_agent_hourly", "rollup_agent_slots", ("room_id", "slot", "agent")),
    ("rollup_room_hourly", "rollup_room_slots", ("slot", "room_id")),
    ("rollup_operation_hourly", "rollup_operation_slots", ("room_id", "slot", "operation")),
)
_INDEXES = (
    index("rollup_slots", "rollup_slots_slot", "slot"),
    index("rollup_slots", "rollup_slots_user", "user_id", "slot"),
    index("rollup_slots", "rollup_slots_thread", "thread_id", "slot"),
    index("rollup_agent_slots", "rollup_agent_slots_slot", "slot"),
    index("rollup_operation_slots", "rollup_operation_slots_slot", "slot"),
    index("events", "events_room_event", "room_id", "event_id", unique=True),
)
_CHECKED = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
            "cache_write_1h_tokens", "input_audio_tokens", "output_audio_tokens", "input_image_tokens",
            "output_image_tokens", "web_searches")  # fmt: skip


def events_v9() -> Table:
    """SQLite's events table as version 9 rebuilt it (PostgreSQL's keeps its columns' order and adds `source`)."""
    texts = ("room_id", "thread_id", "agent", "user_id")
    return Table("events", (
        Column("seq", "seq"), text("event_id"), *counts("ts_ms", "hour"), *(text(name) for name in texts),
        text("session_id", null=True), *(text(name) for name in ("operation", "provider", "model")),
        *counts(*_CHECKED, default="0", check=True), Column("cost_pusd", null=True),
        Column("latency_ms", "real", null=True), text("status"), text("metadata", null=True),
        text("usage_source", default="'provider'"), *counts("input_cost_pusd", "output_cost_pusd", null=True),
        text("source", default="'unknown'"),
    ), indexes=EVENTS_INDEXES)  # fmt: skip


def _events(d: Dialect) -> list[str]:
    if d.name == "postgresql":
        return [d.add_column("events", text("source", default="'unknown'")),
                "ALTER TABLE events DROP CONSTRAINT events_event_id_key"]  # fmt: skip
    table = events_v9()
    created = d.create(table)
    names = ", ".join(c.name for c in table.columns[:-1])
    return [created[0].replace("CREATE TABLE events ", "CREATE TABLE events_v9 ", 1),
            f"INSERT INTO events_v9 ({names}) SELECT {names} FROM events", "DROP TABLE events",
            "ALTER TABLE events_v9 RENAME TO events", *created[1:]]  # fmt: skip


def _over_events(name: str, d: Dialect) -> str:
    if name == "calls":
        return "count(*)"
    if name in _COUNTED:
        return d.count_if(_COUNTED[name])
    return f"sum(coalesce({name}, 0))" if name.endswith("_pusd") else f"sum({name})"


def _convert(d: Dialect, old: str, new: str, key: tuple[str, ...]) -> list[str]:
    columns = tuple(counts(c) if c == "slot" else (text(c),) for c in key)
    table = Table(new, (*(c for group in columns for c in group), *counts(*V8_SUMS)), key, rowid=False)
    into = f"INSERT INTO {new} ({', '.join(key)}, {', '.join(V8_SUMS)})"
    kept = {"slot": "hour * 4", "source": "'unknown'"}
    from_old = ", ".join(kept.get(c, c) for c in key)
    summed = ", ".join("ts_ms / 900000" if c == "slot" else c for c in key)
    complete = "SELECT 1 FROM migration_9_complete_hours c WHERE c.room_id = t.room_id AND c.hour = t.hour"
    return [
        *d.create(table),
        f"{into} SELECT {from_old}, {', '.join(V8_SUMS)} FROM {old} t WHERE NOT EXISTS ({complete})",
        f"{into} SELECT {summed}, {', '.join(_over_events(s, d) for s in V8_SUMS)} FROM events t"
        f" WHERE EXISTS ({complete}) GROUP BY {summed}",
        f"DROP TABLE {old}",
    ]


@upgrade_table.register(9, "event_id unique per room, a source on every event, sum rollups per quarter-hour slot")
def v9(d: Dialect) -> list[str]:
    statements = [
        *_events(d),
        d.add_column("reservations", text("source", default="'tracker'")),
        f"CREATE TEMP TABLE migration_9_complete_hours (room_id TEXT NOT NULL, hour {d.types['count']} NOT NULL,"
        " PRIMARY KEY (room_id, hour))",
        "INSERT INTO migration_9_complete_hours (room_id, hour) SELECT r.room_id, r.hour"
        " FROM (SELECT room_id, hour, sum(calls) AS calls FROM rollup_hourly GROUP BY room_id, hour) r"
        " JOIN (SELECT room_id, hour, count(*) AS calls FROM events GROUP BY room_id, hour) e"
        " ON e.room_id = r.room_id AND e.hour = r.hour AND e.calls = r.calls",
    ]
    for old, new, key in SLOT_TABLES:
        statements += _convert(d, old, new, key)
    return [*statements, *map(d.create_index, _INDEXES), "DROP TABLE migration_9_complete_hours"]
