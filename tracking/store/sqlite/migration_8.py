"""Migration 8 of the SQLite store (frozen once released, like every migration; see `migrations`).

8: everything genai-prices prices beyond the first counters (audio and image tokens, web searches),
whether the usage was reported or estimated, the input and output parts of each cost, and two
rollups: by operation, and latency histograms per model (fixed log-spaced buckets, see
`tracking.latency`), both per room and UTC hour and kept forever like the others. Operations are
filled from the raw events still held; latency histograms start with this version. Both tables are
WITHOUT ROWID like the other rollups (in PostgreSQL: plain tables with that primary key): the latency
table has about one row per event in a store of many rooms and models, and a rowid table would keep its
key twice.
"""

MIGRATION_8 = """
    ALTER TABLE events ADD COLUMN input_audio_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE events ADD COLUMN output_audio_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE events ADD COLUMN input_image_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE events ADD COLUMN output_image_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE events ADD COLUMN web_searches INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE events ADD COLUMN usage_source TEXT NOT NULL DEFAULT 'provider';
    ALTER TABLE events ADD COLUMN input_cost_pusd INTEGER;
    ALTER TABLE events ADD COLUMN output_cost_pusd INTEGER;
    ALTER TABLE rollup_hourly ADD COLUMN input_audio_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_hourly ADD COLUMN output_audio_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_hourly ADD COLUMN input_image_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_hourly ADD COLUMN output_image_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_hourly ADD COLUMN web_searches INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_hourly ADD COLUMN estimated_calls INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_hourly ADD COLUMN input_cost_pusd INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_hourly ADD COLUMN output_cost_pusd INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_agent_hourly ADD COLUMN input_audio_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_agent_hourly ADD COLUMN output_audio_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_agent_hourly ADD COLUMN input_image_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_agent_hourly ADD COLUMN output_image_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_agent_hourly ADD COLUMN web_searches INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_agent_hourly ADD COLUMN estimated_calls INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_agent_hourly ADD COLUMN input_cost_pusd INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_agent_hourly ADD COLUMN output_cost_pusd INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_agent_daily ADD COLUMN input_audio_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_agent_daily ADD COLUMN output_audio_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_agent_daily ADD COLUMN input_image_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_agent_daily ADD COLUMN output_image_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_agent_daily ADD COLUMN web_searches INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_agent_daily ADD COLUMN estimated_calls INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_agent_daily ADD COLUMN input_cost_pusd INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_agent_daily ADD COLUMN output_cost_pusd INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_room_hourly ADD COLUMN input_audio_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_room_hourly ADD COLUMN output_audio_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_room_hourly ADD COLUMN input_image_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_room_hourly ADD COLUMN output_image_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_room_hourly ADD COLUMN web_searches INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_room_hourly ADD COLUMN estimated_calls INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_room_hourly ADD COLUMN input_cost_pusd INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_room_hourly ADD COLUMN output_cost_pusd INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_room_daily ADD COLUMN input_audio_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_room_daily ADD COLUMN output_audio_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_room_daily ADD COLUMN input_image_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_room_daily ADD COLUMN output_image_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_room_daily ADD COLUMN web_searches INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_room_daily ADD COLUMN estimated_calls INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_room_daily ADD COLUMN input_cost_pusd INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollup_room_daily ADD COLUMN output_cost_pusd INTEGER NOT NULL DEFAULT 0;

    CREATE TABLE rollup_operation_hourly (
        room_id TEXT NOT NULL,
        hour INTEGER NOT NULL,
        operation TEXT NOT NULL,
        calls INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        cache_write_1h_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        input_audio_tokens INTEGER NOT NULL,
        output_audio_tokens INTEGER NOT NULL,
        input_image_tokens INTEGER NOT NULL,
        output_image_tokens INTEGER NOT NULL,
        web_searches INTEGER NOT NULL,
        cost_pusd INTEGER NOT NULL,
        unpriced_calls INTEGER NOT NULL,
        error_calls INTEGER NOT NULL,
        estimated_calls INTEGER NOT NULL,
        input_cost_pusd INTEGER NOT NULL,
        output_cost_pusd INTEGER NOT NULL,
        PRIMARY KEY (room_id, hour, operation)
    ) WITHOUT ROWID;
    CREATE INDEX rollup_operation_hourly_hour ON rollup_operation_hourly (hour);
    INSERT INTO rollup_operation_hourly (room_id, hour, operation, calls, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, reasoning_tokens, input_audio_tokens, output_audio_tokens, input_image_tokens, output_image_tokens, web_searches, cost_pusd, unpriced_calls, error_calls, estimated_calls, input_cost_pusd, output_cost_pusd)
        SELECT room_id, hour, operation, count(*), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), sum(cache_write_1h_tokens), sum(reasoning_tokens), 0, 0, 0, 0, 0, sum(coalesce(cost_pusd, 0)), sum(cost_pusd IS NULL), sum(status = 'error'), 0, 0, 0 FROM events GROUP BY room_id, hour, operation;

    CREATE TABLE rollup_latency_hourly (
        room_id TEXT NOT NULL,
        hour INTEGER NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        bucket INTEGER NOT NULL,
        calls INTEGER NOT NULL,
        PRIMARY KEY (room_id, hour, provider, model, bucket)
    ) WITHOUT ROWID;
    """
