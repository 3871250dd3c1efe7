"""Versions 1 to 7, as released (frozen: never edit a step, register a new version).

SQLite stores went through each of them; PostgreSQL stores were created at version 7 with the tables these
steps leave (so they run on PostgreSQL too, and a test checks that they give exactly that schema).
"""

from __future__ import annotations

from .declare import Column, Dialect, Table, counts, index, text
from .upgrades import upgrade_table

V1_SUMS = ("calls", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
           "cost_pusd", "unpriced_calls", "error_calls")  # fmt: skip
V1_COUNTERS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")
HOURLY_TABLES = ("rollup_hourly", "rollup_agent_hourly", "rollup_agent_daily", "rollup_room_hourly",
                 "rollup_room_daily")
"""The sum rollups of versions 3 to 8."""


def sum_rollup(name: str, key: tuple[Column, ...], *indexes: tuple[str, ...], sums: tuple[str, ...] = V1_SUMS) -> Table:
    """A rollup of sums (WITHOUT ROWID in SQLite: its key is its B-tree); each index given as (name, *columns)."""
    named = tuple(index(name, *spec) for spec in indexes)
    return Table(name, (*key, *counts(*sums)), tuple(c.name for c in key), rowid=False, indexes=named)


EVENTS_INDEXES = (index("events", "events_room_ts", "room_id", "ts_ms"), index("events", "events_ts", "ts_ms"))


def events_v1() -> Table:
    return Table("events", (
        Column("seq", "seq"), text("event_id", unique=True), *counts("ts_ms", "hour"),
        *(text(name) for name in ("room_id", "thread_id", "agent", "user_id")), text("session_id", null=True),
        *(text(name) for name in ("operation", "provider", "model")), *counts(*V1_COUNTERS, check=True),
        Column("cost_pusd", null=True), Column("latency_ms", "real", null=True), text("status"),
        text("metadata", null=True),
    ), indexes=EVENTS_INDEXES)  # fmt: skip


_FINE_V1 = tuple(text(name) for name in ("room_id",)) + counts("hour") + tuple(
    text(name) for name in ("thread_id", "agent", "user_id", "provider", "model"))
_TRIGGER = """CREATE TRIGGER events_rollup AFTER INSERT ON events BEGIN
        INSERT INTO rollup_hourly (room_id, hour, thread_id, agent, user_id, provider, model, calls, input_tokens,
            output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_pusd, unpriced_calls,
            error_calls)
        VALUES (NEW.room_id, NEW.hour, NEW.thread_id, NEW.agent, NEW.user_id, NEW.provider, NEW.model, 1,
                NEW.input_tokens, NEW.output_tokens, NEW.cache_read_tokens, NEW.cache_write_tokens,
                NEW.reasoning_tokens, coalesce(NEW.cost_pusd, 0), NEW.cost_pusd IS NULL, NEW.status = 'error')
        ON CONFLICT (room_id, hour, thread_id, agent, user_id, provider, model) DO UPDATE SET
            calls = calls + 1,
            input_tokens = input_tokens + excluded.input_tokens,
            output_tokens = output_tokens + excluded.output_tokens,
            cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
            cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
            reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
            cost_pusd = cost_pusd + excluded.cost_pusd,
            unpriced_calls = unpriced_calls + excluded.unpriced_calls,
            error_calls = error_calls + excluded.error_calls;
    END"""


META = Table("meta", (text("key", null=True), text("value")), ("key",))
APP_ROW = "INSERT INTO meta (key, value) VALUES ('app', 'matrix-usage-bot')"
REJECTED_EVENTS = Table("rejected_events", (Column("id", "seq"), *counts("received_ms"), text("reason"),
                                            text("payload")))


@upgrade_table.register(1, "raw events, hourly rollups (kept by a trigger in SQLite), rejected events")
def v1(d: Dialect) -> list[str]:
    rollup = sum_rollup("rollup_hourly", _FINE_V1)
    statements = [
        *d.create(META),
        APP_ROW,
        *d.create(events_v1()),
        *d.create(rollup),
        d.create_index(index("rollup_hourly", "rollup_hour", "hour")),
        d.create_index(index("rollup_hourly", "rollup_user_hour", "user_id", "hour")),
        *d.create(REJECTED_EVENTS),
    ]
    return statements + ([_TRIGGER] if d.name == "sqlite" else [])


@upgrade_table.register(2, "quotas set in rooms, warnings sent, digests")
def v2(d: Dialect) -> list[str]:
    return [
        *d.create(Table("quotas", (
            *(text(name) for name in ("room_id", "scope", "name", "window_kind", "unit", "limit_value")),
            Column("hard", "flag"), Column("disabled", "flag", default="0"), text("set_by", null=True),
            *counts("set_ms")), ("room_id", "scope", "name", "window_kind"))),
        *d.create(Table("quota_warnings", (text("quota_key"), text("period_start"), *counts("threshold"),
                                           text("room_id"), *counts("fired_ms")),
                        ("quota_key", "period_start", "threshold"))),
        *d.create(Table("digests", (text("room_id", null=True), Column("enabled", "flag"), text("at"),
                                    text("last_posted", null=True)), ("room_id",))),
    ]  # fmt: skip


def _fill(target: str, key: tuple[str, ...], source: str, select: tuple[str, ...]) -> str:
    sums = ", ".join(V1_SUMS)
    summed = ", ".join(f"sum({s})" for s in V1_SUMS)
    return (f"INSERT INTO {target} ({', '.join(key)}, {sums}) SELECT {', '.join(select)}, {summed} FROM {source}"
            f" GROUP BY {', '.join(select)}")  # fmt: skip


@upgrade_table.register(3, "rollups summed per batch by the store; per (room, agent) and per room, by hour and day")
def v3(d: Dialect) -> list[str]:
    room, agent = text("room_id"), text("agent")
    hour, day = counts("hour"), counts("day")
    return [
        *(["DROP TRIGGER events_rollup"] if d.name == "sqlite" else []),
        d.create_index(index("rollup_hourly", "rollup_thread_hour", "thread_id", "hour")),
        *d.create(sum_rollup("rollup_agent_hourly", (room, *hour, agent), ("rollup_agent_hourly_hour", "hour"))),
        *d.create(sum_rollup("rollup_agent_daily", (room, *day, agent), ("rollup_agent_daily_day", "day"))),
        *d.create(sum_rollup("rollup_room_hourly", (*hour, room))),
        *d.create(sum_rollup("rollup_room_daily", (*day, room))),
        _fill("rollup_agent_hourly", ("room_id", "hour", "agent"), "rollup_hourly", ("room_id", "hour", "agent")),
        _fill("rollup_agent_daily", ("room_id", "day", "agent"), "rollup_agent_hourly",
              ("room_id", "hour / 24", "agent")),
        _fill("rollup_room_hourly", ("hour", "room_id"), "rollup_agent_hourly", ("hour", "room_id")),
        _fill("rollup_room_daily", ("day", "room_id"), "rollup_agent_daily", ("day", "room_id")),
    ]  # fmt: skip


@upgrade_table.register(4, "the part of cache writes that went to the 1-hour cache, per event and in every rollup")
def v4(d: Dialect) -> list[str]:
    added = Column("cache_write_1h_tokens", default="0")
    return [d.add_column("events", Column("cache_write_1h_tokens", default="0", check=True)),
            *(d.add_column(table, added) for table in HOURLY_TABLES)]  # fmt: skip


CLAIMS = Table("claims", (text("kind"), text("key"), text("room_id", null=True), *counts("claimed_ms")),
               ("kind", "key"), indexes=(index("claims", "claims_room", "kind", "room_id"),
                                         index("claims", "claims_time", "kind", "claimed_ms")))  # fmt: skip
ROOM_VALUES = Table("room_values", (text("room_id"), text("name"), text("value"), *counts("set_ms")),
                    ("room_id", "name"))


@upgrade_table.register(5, "claims and per-room values; warnings sent and digest settings move there")
def v5(d: Dialect) -> list[str]:
    return [
        *d.create(CLAIMS),
        *d.create(ROOM_VALUES),
        "INSERT INTO claims (kind, key, room_id, claimed_ms) SELECT 'warning', quota_key || '|' || period_start"
        " || '|' || threshold, room_id, fired_ms FROM quota_warnings",
        "INSERT INTO claims (kind, key, room_id, claimed_ms) SELECT 'digest', room_id || '|' || last_posted, room_id,"
        " 0 FROM digests WHERE last_posted IS NOT NULL",
        "INSERT INTO room_values (room_id, name, value, set_ms) SELECT room_id, 'digest.enabled', CASE WHEN enabled"
        " <> 0 THEN '1' ELSE '0' END, 0 FROM digests",
        "INSERT INTO room_values (room_id, name, value, set_ms) SELECT room_id, 'digest.at', at, 0 FROM digests",
        "DROP TABLE quota_warnings",
        "DROP TABLE digests",
    ]  # fmt: skip


_RULE_COLUMNS = "place, scope, name, window_kind, unit, limit_value, hard, disabled, set_by, set_ms"
QUOTA_RULES = Table("quota_rules", (
    *(text(name) for name in ("place", "scope", "name", "window_kind", "unit", "limit_value")),
    Column("hard", "flag"), Column("disabled", "flag", default="0"), text("set_by", null=True),
    *counts("set_ms")), ("place", "scope", "name", "window_kind", "unit"))  # fmt: skip


@upgrade_table.register(6, "quotas by (place, scope, name, window, unit); place '*' counts in every room")
def v6(d: Dialect) -> list[str]:
    def moved(unit: str, limit: str, hard: str, disabled: str, where: str) -> str:
        return (f"INSERT INTO quota_rules ({_RULE_COLUMNS}) SELECT room_id, scope, name, window_kind, {unit}, {limit},"
                f" {hard}, {disabled}, set_by, set_ms FROM quotas WHERE {where}")  # fmt: skip

    return [
        *d.create(QUOTA_RULES),
        moved("unit", "limit_value", "hard", "disabled", "disabled = 0"),
        moved("'tokens'", "'0'", "0", "1", "disabled = 1 OR unit = 'usd'"),
        moved("'usd'", "'0'", "0", "1", "disabled = 1 OR unit = 'tokens'"),
        "DROP TABLE quotas",
    ]  # fmt: skip


RESERVATIONS = Table("reservations", (
    text("id", null=True), text("room_id"), text("thread_id", default="''"), text("agent"), text("user_id"),
    *counts("tokens", "cost_pusd", check=True), *counts("created_ms", "expires_ms")),
    ("id",), indexes=(index("reservations", "reservations_expiry", "expires_ms"),))  # fmt: skip


@upgrade_table.register(7, "reservations held by calls under way against hard quotas")
def v7(d: Dialect) -> list[str]:
    return d.create(RESERVATIONS)
