"""Numbered schema migrations for the SQLite store. `PRAGMA user_version` holds the applied number.

Each migration is literal SQL, frozen once released: never edit one, append a new one. (A migration
built from shared constants would change silently when they do.)
"""

from __future__ import annotations

from ..migration_9 import sql as migration_9
from .migration_8 import MIGRATION_8

APP_ID = "matrix-usage-bot"

MIGRATIONS: list[str] = [
    # 1: raw events, hourly rollups kept in step by a trigger (so a duplicate, which inserts nothing,
    # never touches a rollup), and the indexes the report queries use.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('app', 'matrix-usage-bot');

    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        ts_ms INTEGER NOT NULL,
        hour INTEGER NOT NULL,
        room_id TEXT NOT NULL,
        thread_id TEXT NOT NULL,
        agent TEXT NOT NULL,
        user_id TEXT NOT NULL,
        session_id TEXT,
        operation TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        input_tokens INTEGER NOT NULL CHECK (input_tokens >= 0),
        output_tokens INTEGER NOT NULL CHECK (output_tokens >= 0),
        cache_read_tokens INTEGER NOT NULL CHECK (cache_read_tokens >= 0),
        cache_write_tokens INTEGER NOT NULL CHECK (cache_write_tokens >= 0),
        reasoning_tokens INTEGER NOT NULL CHECK (reasoning_tokens >= 0),
        cost_pusd INTEGER,
        latency_ms REAL,
        status TEXT NOT NULL,
        metadata TEXT
    );
    CREATE INDEX events_room_ts ON events (room_id, ts_ms);
    CREATE INDEX events_ts ON events (ts_ms);

    CREATE TABLE rollup_hourly (
        room_id TEXT NOT NULL,
        hour INTEGER NOT NULL,
        thread_id TEXT NOT NULL,
        agent TEXT NOT NULL,
        user_id TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        calls INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        cost_pusd INTEGER NOT NULL,
        unpriced_calls INTEGER NOT NULL,
        error_calls INTEGER NOT NULL,
        PRIMARY KEY (room_id, hour, thread_id, agent, user_id, provider, model)
    ) WITHOUT ROWID;
    CREATE INDEX rollup_hour ON rollup_hourly (hour);
    CREATE INDEX rollup_user_hour ON rollup_hourly (user_id, hour);

    CREATE TRIGGER events_rollup AFTER INSERT ON events BEGIN
        INSERT INTO rollup_hourly (room_id, hour, thread_id, agent, user_id, provider, model, calls, input_tokens, output_tokens, cache_read_tokens,
                                   cache_write_tokens, reasoning_tokens, cost_pusd, unpriced_calls, error_calls)
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
    END;

    CREATE TABLE rejected_events (
        id INTEGER PRIMARY KEY,
        received_ms INTEGER NOT NULL,
        reason TEXT NOT NULL,
        payload TEXT NOT NULL
    );
    """,
    # 2: quotas set in rooms, the warnings already sent (once per quota, period and threshold), and digests.
    """
    CREATE TABLE quotas (
        room_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        name TEXT NOT NULL,
        window_kind TEXT NOT NULL,
        unit TEXT NOT NULL,
        limit_value TEXT NOT NULL,
        hard INTEGER NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        set_by TEXT,
        set_ms INTEGER NOT NULL,
        PRIMARY KEY (room_id, scope, name, window_kind)
    );

    CREATE TABLE quota_warnings (
        quota_key TEXT NOT NULL,
        period_start TEXT NOT NULL,
        threshold INTEGER NOT NULL,
        room_id TEXT NOT NULL,
        fired_ms INTEGER NOT NULL,
        PRIMARY KEY (quota_key, period_start, threshold)
    );

    CREATE TABLE digests (
        room_id TEXT PRIMARY KEY,
        enabled INTEGER NOT NULL,
        at TEXT NOT NULL,
        last_posted TEXT
    );
    """,
    # 3: rollups are maintained once per written batch by the store (one grouped upsert per table)
    # instead of a row trigger per event, and coarser rollups answer the common reports without
    # touching the fine table: per (room, agent) and per room, by UTC hour and by UTC day (day =
    # hour // 24). Local days are still exact: the hours of a period outside whole UTC days come
    # from the hourly tables. The new tables are filled from rollup_hourly, which is complete
    # (raw events may have been removed by retention). A thread's report seeks its own rows.
    """
    DROP TRIGGER events_rollup;
    CREATE INDEX rollup_thread_hour ON rollup_hourly (thread_id, hour);

    CREATE TABLE rollup_agent_hourly (
        room_id TEXT NOT NULL,
        hour INTEGER NOT NULL,
        agent TEXT NOT NULL,
        calls INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        cost_pusd INTEGER NOT NULL,
        unpriced_calls INTEGER NOT NULL,
        error_calls INTEGER NOT NULL,
        PRIMARY KEY (room_id, hour, agent)
    ) WITHOUT ROWID;
    CREATE INDEX rollup_agent_hourly_hour ON rollup_agent_hourly (hour);

    CREATE TABLE rollup_agent_daily (
        room_id TEXT NOT NULL,
        day INTEGER NOT NULL,
        agent TEXT NOT NULL,
        calls INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        cost_pusd INTEGER NOT NULL,
        unpriced_calls INTEGER NOT NULL,
        error_calls INTEGER NOT NULL,
        PRIMARY KEY (room_id, day, agent)
    ) WITHOUT ROWID;
    CREATE INDEX rollup_agent_daily_day ON rollup_agent_daily (day);

    CREATE TABLE rollup_room_hourly (
        hour INTEGER NOT NULL,
        room_id TEXT NOT NULL,
        calls INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        cost_pusd INTEGER NOT NULL,
        unpriced_calls INTEGER NOT NULL,
        error_calls INTEGER NOT NULL,
        PRIMARY KEY (hour, room_id)
    ) WITHOUT ROWID;

    CREATE TABLE rollup_room_daily (
        day INTEGER NOT NULL,
        room_id TEXT NOT NULL,
        calls INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        cost_pusd INTEGER NOT NULL,
        unpriced_calls INTEGER NOT NULL,
        error_calls INTEGER NOT NULL,
        PRIMARY KEY (day, room_id)
    ) WITHOUT ROWID;

    INSERT INTO rollup_agent_hourly (room_id, hour, agent, calls, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_pusd, unpriced_calls, error_calls)
        SELECT room_id, hour, agent, sum(calls), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), sum(reasoning_tokens), sum(cost_pusd), sum(unpriced_calls), sum(error_calls) FROM rollup_hourly GROUP BY room_id, hour, agent;
    INSERT INTO rollup_agent_daily (room_id, day, agent, calls, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_pusd, unpriced_calls, error_calls)
        SELECT room_id, hour / 24, agent, sum(calls), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), sum(reasoning_tokens), sum(cost_pusd), sum(unpriced_calls), sum(error_calls) FROM rollup_agent_hourly GROUP BY room_id, hour / 24, agent;
    INSERT INTO rollup_room_hourly (hour, room_id, calls, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_pusd, unpriced_calls, error_calls)
        SELECT hour, room_id, sum(calls), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), sum(reasoning_tokens), sum(cost_pusd), sum(unpriced_calls), sum(error_calls) FROM rollup_agent_hourly GROUP BY hour, room_id;
    INSERT INTO rollup_room_daily (day, room_id, calls, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_pusd, unpriced_calls, error_calls)
        SELECT day, room_id, sum(calls), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), sum(reasoning_tokens), sum(cost_pusd), sum(unpriced_calls), sum(error_calls) FROM rollup_agent_daily GROUP BY day, room_id;
    """,
    # 4: the part of cache writes that went to the 1-hour cache (priced apart from 5-minute writes),
    # kept per event and summed in every rollup like the other counters.
    """
    ALTER TABLE events ADD COLUMN cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0
        CHECK (cache_write_1h_tokens >= 0);
    ALTER TABLE rollup_hourly ADD COLUMN cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_agent_hourly ADD COLUMN cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_agent_daily ADD COLUMN cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_room_hourly ADD COLUMN cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_room_daily ADD COLUMN cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0;
    """,
    # 5: the small bookkeeping of the store's users, kept apart from their meaning: claims (a key taken
    # once, e.g. a warning sent or a command answered) and named values per room (e.g. a digest time).
    # The warnings sent and the digest settings move there; a digest posted is a claim of its day.
    """
    CREATE TABLE claims (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        room_id TEXT,
        claimed_ms INTEGER NOT NULL,
        PRIMARY KEY (kind, key)
    );
    CREATE INDEX claims_room ON claims (kind, room_id);
    CREATE INDEX claims_time ON claims (kind, claimed_ms);

    CREATE TABLE room_values (
        room_id TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        set_ms INTEGER NOT NULL,
        PRIMARY KEY (room_id, name)
    );

    INSERT INTO claims (kind, key, room_id, claimed_ms)
        SELECT 'warning', quota_key || '|' || period_start || '|' || threshold, room_id, fired_ms FROM quota_warnings;
    INSERT INTO claims (kind, key, room_id, claimed_ms)
        SELECT 'digest', room_id || '|' || last_posted, room_id, 0 FROM digests WHERE last_posted IS NOT NULL;
    INSERT INTO room_values (room_id, name, value, set_ms)
        SELECT room_id, 'digest.enabled', CASE WHEN enabled THEN '1' ELSE '0' END, 0 FROM digests;
    INSERT INTO room_values (room_id, name, value, set_ms) SELECT room_id, 'digest.at', at, 0 FROM digests;
    DROP TABLE quota_warnings;
    DROP TABLE digests;
    """,
    # 6: a quota is identified by (place, scope, name, window, unit): a token and a dollar quota on the
    # same window live side by side; place is a room id, or '*' for a quota counted across all rooms.
    # A room's quota used to replace the default of the same window whatever its unit, so each old row
    # also disables the default of the other unit; a cleared quota clears both.
    """
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
        set_ms INTEGER NOT NULL,
        PRIMARY KEY (place, scope, name, window_kind, unit)
    );
    INSERT INTO quota_rules (place, scope, name, window_kind, unit, limit_value, hard, disabled, set_by, set_ms)
        SELECT room_id, scope, name, window_kind, unit, limit_value, hard, disabled, set_by, set_ms FROM quotas
        WHERE disabled = 0;
    INSERT INTO quota_rules (place, scope, name, window_kind, unit, limit_value, hard, disabled, set_by, set_ms)
        SELECT room_id, scope, name, window_kind, 'tokens', '0', 0, 1, set_by, set_ms FROM quotas
        WHERE disabled = 1 OR unit = 'usd';
    INSERT INTO quota_rules (place, scope, name, window_kind, unit, limit_value, hard, disabled, set_by, set_ms)
        SELECT room_id, scope, name, window_kind, 'usd', '0', 0, 1, set_by, set_ms FROM quotas
        WHERE disabled = 1 OR unit = 'tokens';
    DROP TABLE quotas;
    """,
    # 7: reservations: what calls under way hold against hard quotas until their usage is stored (the
    # event's batch deletes its reservation in the same transaction) or until they expire.
    """
    CREATE TABLE reservations (
        id TEXT PRIMARY KEY,
        room_id TEXT NOT NULL,
        thread_id TEXT NOT NULL DEFAULT '',
        agent TEXT NOT NULL,
        user_id TEXT NOT NULL,
        tokens INTEGER NOT NULL CHECK (tokens >= 0),
        cost_pusd INTEGER NOT NULL CHECK (cost_pusd >= 0),
        created_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL
    );
    CREATE INDEX reservations_expiry ON reservations (expires_ms);
    """,
    MIGRATION_8,
    # 9: event_id unique per room, `source` on every event, sum rollups per quarter-hour slot (see the module).
    migration_9("sqlite"),
]
