"""Migration 9 on a store of version 8, both backends: every total kept, hours whose raw events are all there
summed again per quarter-hour slot, older hours kept whole in their first slot; events kept (source 'unknown'),
event_id unique per room from then on."""

from __future__ import annotations

from pathlib import Path

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.store import is_postgres
from matrix_usage_bot.tracking.store.schema import POSTGRESQL, SQLITE, statements_to
from tests.dbrows import rows
from tests.oldstores import build, execute

V8_COLUMNS = ("event_id", "ts_ms", "hour", "room_id", "thread_id", "agent", "user_id", "session_id", "operation",
              "provider", "model", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
              "cache_write_1h_tokens", "reasoning_tokens", "input_audio_tokens", "output_audio_tokens",
              "input_image_tokens", "output_image_tokens", "web_searches", "cost_pusd", "latency_ms", "status",
              "metadata", "usage_source", "input_cost_pusd", "output_cost_pusd")  # fmt: skip
SUMS = ("calls", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens",
        "reasoning_tokens", "input_audio_tokens", "output_audio_tokens", "input_image_tokens", "output_image_tokens",
        "web_searches", "cost_pusd", "unpriced_calls", "error_calls", "estimated_calls", "input_cost_pusd",
        "output_cost_pusd")  # fmt: skip
OVER_EVENTS = {"calls": "count(*)", "cost_pusd": "sum(coalesce(cost_pusd, 0))",
               "unpriced_calls": "sum(CASE WHEN cost_pusd IS NULL THEN 1 ELSE 0 END)",
               "error_calls": "sum(CASE WHEN status = 'error' THEN 1 ELSE 0 END)",
               "estimated_calls": "sum(CASE WHEN usage_source = 'estimated' THEN 1 ELSE 0 END)",
               "input_cost_pusd": "sum(coalesce(input_cost_pusd, 0))",
               "output_cost_pusd": "sum(coalesce(output_cost_pusd, 0))"}  # fmt: skip
V8_ROLLUPS = {  # the tables version 8 kept, by their keys ("day" is hour / 24)
    "rollup_hourly": ("room_id", "hour", "thread_id", "agent", "user_id", "provider", "model"),
    "rollup_agent_hourly": ("room_id", "hour", "agent"),
    "rollup_agent_daily": ("room_id", "day", "agent"),
    "rollup_room_hourly": ("hour", "room_id"),
    "rollup_room_daily": ("day", "room_id"),
    "rollup_operation_hourly": ("room_id", "hour", "operation"),
}
SLOT_TABLES = {"rollup_hourly": "rollup_slots", "rollup_agent_hourly": "rollup_agent_slots",
               "rollup_room_hourly": "rollup_room_slots", "rollup_operation_hourly": "rollup_operation_slots"}
H = 494_000  # a UTC hour of 2026 (hours since 1970)
MS_PER_HOUR = 3_600_000


def v8_events() -> list[tuple]:
    events = []
    for n, (room, hour, minute) in enumerate([("!a:x", H, 5), ("!a:x", H, 20), ("!a:x", H, 50), ("!a:x", H + 1, 1),
                                              ("!b:x", H, 7), ("!b:x", H, 44), ("!b:x", H + 30, 59),
                                              ("!b:x", H + 30, 14), ("!a:x", H + 30, 31)]):  # fmt: skip
        priced = n % 4 != 3
        events.append((f"$e{n}", (hour * 60 + minute) * 60_000 + n, hour, room, "$t" if n % 2 else "",
                       ("coder", "writer")[n % 2], "@u:x", None, ("chat", "embedding")[n % 3 == 0], "openai", "gpt-4o",
                       100 + n, 10 + n, n, 0, 0, n % 3, 0, 0, 0, 0, n % 2, 1000 * n if priced else None, 200.0 + n,
                       ("ok", "error")[n == 5], None, ("provider", "estimated")[n == 4],
                       700 * n if priced else None, 300 * n if priced else None))  # fmt: skip
    return events


def version_8_store(url: str) -> None:
    """A store of version 8 as its writer left it: events, every rollup a GROUP BY over them, a reservation."""
    build(url, 8)
    execute(url, [], f"INSERT INTO events ({', '.join(V8_COLUMNS)}) VALUES ({', '.join('?' * len(V8_COLUMNS))})",
            v8_events())
    sums = ", ".join(OVER_EVENTS.get(s, f"sum({s})") for s in SUMS)
    fills = []
    for table, key in V8_ROLLUPS.items():
        select = ", ".join("hour / 24" if k == "day" else k for k in key)
        fills.append(f"INSERT INTO {table} ({', '.join(key)}, {', '.join(SUMS)})"
                     f" SELECT {select}, {sums} FROM events GROUP BY {select}")  # fmt: skip
    fills.append("INSERT INTO rollup_latency_hourly (room_id, hour, provider, model, bucket, calls) SELECT room_id,"
                 " hour, provider, model, 62, count(*) FROM events GROUP BY room_id, hour, provider, model")
    fills.append("INSERT INTO reservations (id, room_id, agent, user_id, tokens, cost_pusd, created_ms, expires_ms)"
                 " VALUES ('r1', '!a:x', 'coder', '@u:x', 5, 6, 1, 9000000000000)")  # fmt: skip
    # retention took all of !b:x's hour H+30 and one event of !a:x's hour H: those hours stay whole
    fills.append("DELETE FROM events WHERE event_id IN ('$e6', '$e7', '$e1')")
    execute(url, fills)


def per_hour(url: str, table: str, key: tuple[str, ...], slot_key: tuple[str, ...] | None = None) -> list[tuple]:
    """The table's sums by its hourly key (a slot table's slots summed by hour)."""
    columns = ", ".join("slot / 4" if slot_key and k == "hour" else k for k in key)
    return rows(url, f"SELECT {columns}, {', '.join(f'sum({s})' for s in SUMS)} FROM {table}"
                     f" GROUP BY {columns} ORDER BY {columns}")  # fmt: skip


async def test_migration_9_keeps_every_total_and_splits_complete_hours_into_slots(empty_store_url):
    url = empty_store_url  # built at version 8 below
    version_8_store(url)
    before = {table: per_hour(url, table, key) for table, key in V8_ROLLUPS.items()}
    latency = rows(url, "SELECT * FROM rollup_latency_hourly ORDER BY 1, 2, 3, 4, 5")
    events = rows(url, "SELECT seq, event_id, room_id, input_tokens FROM events ORDER BY seq")
    execute(url, statements_to(9, POSTGRESQL if is_postgres(url) else SQLITE, start=8))
    for table, key in V8_ROLLUPS.items():
        now = per_hour(url, SLOT_TABLES.get(table, table), key, key if table in SLOT_TABLES else None)
        assert now == before[table], table
    assert rows(url, "SELECT * FROM rollup_latency_hourly ORDER BY 1, 2, 3, 4, 5") == latency
    assert rows(url, "SELECT seq, event_id, room_id, input_tokens FROM events ORDER BY seq") == events
    assert rows(url, "SELECT DISTINCT source FROM events") == [("unknown",)]
    assert rows(url, "SELECT id, source FROM reservations") == [("r1", "tracker")]
    # complete hours (all of !a:x's H+1 and H+30, all of !b:x's H) are split by slot; the others keep one slot
    slots = rows(url, "SELECT room_id, slot, sum(calls) FROM rollup_room_slots GROUP BY room_id, slot"
                            " ORDER BY room_id, slot")  # fmt: skip
    assert slots == [("!a:x", H * 4, 3), ("!a:x", (H + 1) * 4, 1), ("!a:x", (H + 30) * 4 + 2, 1),
                     ("!b:x", H * 4, 1), ("!b:x", H * 4 + 2, 1), ("!b:x", (H + 30) * 4, 2)]  # fmt: skip
    assert rows(url, "SELECT DISTINCT source FROM rollup_slots") == [("unknown",)]
    execute(url, ["PRAGMA user_version = 9" if not is_postgres(url) else
                        "UPDATE meta SET value = '9' WHERE key = 'schema_version'"])  # fmt: skip
    # from now on an event_id is unique within its room only
    async with tracking.Tracker(url) as tracker:
        for room in ("!a:x", "!c:x"):
            tracker.record(provider="openai", model="gpt-4o", input_tokens=1, room_id=room, event_id="$e0",
                           ts=H * 3600 + 60)  # fmt: skip
        await tracker.flush()
        assert (tracker.stats.stored, tracker.stats.duplicates) == (1, 1)
    assert rows(url, "SELECT room_id, source FROM events WHERE event_id = '$e0' ORDER BY room_id") == [
        ("!a:x", "unknown"), ("!c:x", "tracker")]  # fmt: skip


def test_an_old_sqlite_file_of_any_version_still_opens(tmp_path: Path):
    db = tmp_path / "v1.db"
    build(db, 1)
    with tracking.Tracker(f"sqlite:///{db}") as tracker:
        tracker.record(provider="openai", model="gpt-4o", input_tokens=1, room_id="!a:x", ts=H * 3600)
    assert rows(db, "SELECT slot, calls, shard FROM rollup_slots") == [(H * 4, 1, 0)]
