"""Numbered schema migrations for the PostgreSQL store. `meta.schema_version` holds the applied number.

The numbers are SQLite's (tracking/store/sqlite/migrations.py): both stores report the same schema
version for the same tables. PostgreSQL starts at BASE, whose script creates at once what SQLite's
migrations 1 to BASE built step by step; each later SQLite migration gets its twin here, appended as
one more entry. Each entry is literal SQL, frozen once released: never edit one, append a new one.

Counts, times and pico-dollar costs are BIGINT: PostgreSQL raises `bigint out of range` (SQLSTATE
22003) where a sum would pass 64 bits, never wrapping or rounding, and the writer rejects the event
at fault with its reason. `sum()` over BIGINT is NUMERIC, so reports never overflow.
"""

from __future__ import annotations

from ..migration_9 import sql as migration_9
from .migration_8 import MIGRATION_8

BASE = 7
"""The first version a PostgreSQL database is created at."""

MIGRATIONS: dict[int, str] = {
    # 7: everything SQLite's migrations 1-7 built: raw events, five rollup tables, rejected events,
    # quota rules in rooms or everywhere ('*'), claims and room values, reservations.
    7: """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('app', 'matrix-usage-bot');
    INSERT INTO meta (key, value) VALUES ('schema_version', '0');

    CREATE TABLE events (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        ts_ms BIGINT NOT NULL,
        hour BIGINT NOT NULL,
        room_id TEXT NOT NULL,
        thread_id TEXT NOT NULL,
        agent TEXT NOT NULL,
        user_id TEXT NOT NULL,
        session_id TEXT,
        operation TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        input_tokens BIGINT NOT NULL CHECK (input_tokens >= 0),
        output_tokens BIGINT NOT NULL CHECK (output_tokens >= 0),
        cache_read_tokens BIGINT NOT NULL CHECK (cache_read_tokens >= 0),
        cache_write_tokens BIGINT NOT NULL CHECK (cache_write_tokens >= 0),
        reasoning_tokens BIGINT NOT NULL CHECK (reasoning_tokens >= 0),
        cost_pusd BIGINT,
        latency_ms DOUBLE PRECISION,
        status TEXT NOT NULL,
        metadata TEXT,
        cache_write_1h_tokens BIGINT NOT NULL DEFAULT 0 CHECK (cache_write_1h_tokens >= 0)
    );
    CREATE INDEX events_room_ts ON events (room_id, ts_ms);
    CREATE INDEX events_ts ON events (ts_ms);

    CREATE TABLE rollup_hourly (
        room_id TEXT NOT NULL,
        hour BIGINT NOT NULL,
        thread_id TEXT NOT NULL,
        agent TEXT NOT NULL,
        user_id TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        calls BIGINT NOT NULL,
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        cache_read_tokens BIGINT NOT NULL,
        cache_write_tokens BIGINT NOT NULL,
        reasoning_tokens BIGINT NOT NULL,
        cost_pusd BIGINT NOT NULL,
        unpriced_calls BIGINT NOT NULL,
        error_calls BIGINT NOT NULL,
        cache_write_1h_tokens BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (room_id, hour, thread_id, agent, user_id, provider, model)
    );
    CREATE INDEX rollup_hour ON rollup_hourly (hour);
    CREATE INDEX rollup_user_hour ON rollup_hourly (user_id, hour);
    CREATE INDEX rollup_thread_hour ON rollup_hourly (thread_id, hour);

    CREATE TABLE rollup_agent_hourly (
        room_id TEXT NOT NULL,
        hour BIGINT NOT NULL,
        agent TEXT NOT NULL,
        calls BIGINT NOT NULL,
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        cache_read_tokens BIGINT NOT NULL,
        cache_write_tokens BIGINT NOT NULL,
        reasoning_tokens BIGINT NOT NULL,
        cost_pusd BIGINT NOT NULL,
        unpriced_calls BIGINT NOT NULL,
        error_calls BIGINT NOT NULL,
        cache_write_1h_tokens BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (room_id, hour, agent)
    );
    CREATE INDEX rollup_agent_hourly_hour ON rollup_agent_hourly (hour);

    CREATE TABLE rollup_agent_daily (
        room_id TEXT NOT NULL,
        day BIGINT NOT NULL,
        agent TEXT NOT NULL,
        calls BIGINT NOT NULL,
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        cache_read_tokens BIGINT NOT NULL,
        cache_write_tokens BIGINT NOT NULL,
        reasoning_tokens BIGINT NOT NULL,
        cost_pusd BIGINT NOT NULL,
        unpriced_calls BIGINT NOT NULL,
        error_calls BIGINT NOT NULL,
        cache_write_1h_tokens BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (room_id, day, agent)
    );
    CREATE INDEX rollup_agent_daily_day ON rollup_agent_daily (day);

    CREATE TABLE rollup_room_hourly (
        hour BIGINT NOT NULL,
        room_id TEXT NOT NULL,
        calls BIGINT NOT NULL,
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        cache_read_tokens BIGINT NOT NULL,
        cache_write_tokens BIGINT NOT NULL,
        reasoning_tokens BIGINT NOT NULL,
        cost_pusd BIGINT NOT NULL,
        unpriced_calls BIGINT NOT NULL,
        error_calls BIGINT NOT NULL,
        cache_write_1h_tokens BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (hour, room_id)
    );

    CREATE TABLE rollup_room_daily (
        day BIGINT NOT NULL,
        room_id TEXT NOT NULL,
        calls BIGINT NOT NULL,
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        cache_read_tokens BIGINT NOT NULL,
        cache_write_tokens BIGINT NOT NULL,
        reasoning_tokens BIGINT NOT NULL,
        cost_pusd BIGINT NOT NULL,
        unpriced_calls BIGINT NOT NULL,
        error_calls BIGINT NOT NULL,
        cache_write_1h_tokens BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (day, room_id)
    );

    CREATE TABLE rejected_events (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        received_ms BIGINT NOT NULL,
        reason TEXT NOT NULL,
        payload TEXT NOT NULL
    );

    CREATE TABLE quota_rules (
        place TEXT NOT NULL,
        scope TEXT NOT NULL,
        name TEXT NOT NULL,
        window_kind TEXT NOT NULL,
        unit TEXT NOT NULL,
        limit_value TEXT NOT NULL,
        hard INTEGER NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        set_by TEXT,
        set_ms BIGINT NOT NULL,
        PRIMARY KEY (place, scope, name, window_kind, unit)
    );

    CREATE TABLE claims (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        room_id TEXT,
        claimed_ms BIGINT NOT NULL,
        PRIMARY KEY (kind, key)
    );
    CREATE INDEX claims_room ON claims (kind, room_id);
    CREATE INDEX claims_time ON claims (kind, claimed_ms);

    CREATE TABLE room_values (
        room_id TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        set_ms BIGINT NOT NULL,
        PRIMARY KEY (room_id, name)
    );

    CREATE TABLE reservations (
        id TEXT PRIMARY KEY,
        room_id TEXT NOT NULL,
        thread_id TEXT NOT NULL DEFAULT '',
        agent TEXT NOT NULL,
        user_id TEXT NOT NULL,
        tokens BIGINT NOT NULL CHECK (tokens >= 0),
        cost_pusd BIGINT NOT NULL CHECK (cost_pusd >= 0),
        created_ms BIGINT NOT NULL,
        expires_ms BIGINT NOT NULL
    );
    CREATE INDEX reservations_expiry ON reservations (expires_ms);
    """,
    8: MIGRATION_8,
    9: migration_9("postgresql"),
}
