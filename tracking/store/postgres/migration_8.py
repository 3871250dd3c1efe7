"""Migration 8 of the PostgreSQL store, the twin of SQLite's (`tracking/store/sqlite/migration_8.py`).

Frozen once released, like every migration: audio and image tokens, web searches, whether the usage
was reported or estimated, the input and output parts of each cost, and two rollups: by operation,
and latency histograms per model (`tracking.latency`), both per room and UTC hour. Operations are
filled from the raw events still held; latency histograms start with this version.
"""

MIGRATION_8 = """
    ALTER TABLE events ADD COLUMN input_audio_tokens BIGINT NOT NULL DEFAULT 0 CHECK (input_audio_tokens >= 0);
    ALTER TABLE events ADD COLUMN output_audio_tokens BIGINT NOT NULL DEFAULT 0 CHECK (output_audio_tokens >= 0);
    ALTER TABLE events ADD COLUMN input_image_tokens BIGINT NOT NULL DEFAULT 0 CHECK (input_image_tokens >= 0);
    ALTER TABLE events ADD COLUMN output_image_tokens BIGINT NOT NULL DEFAULT 0 CHECK (output_image_tokens >= 0);
    ALTER TABLE events ADD COLUMN web_searches BIGINT NOT NULL DEFAULT 0 CHECK (web_searches >= 0);
    ALTER TABLE events ADD COLUMN usage_source TEXT NOT NULL DEFAULT 'provider';
    ALTER TABLE events ADD COLUMN input_cost_pusd BIGINT;
    ALTER TABLE events ADD COLUMN output_cost_pusd BIGINT;
    ALTER TABLE rollup_hourly
        ADD COLUMN input_audio_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN output_audio_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN input_image_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN output_image_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN web_searches BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN estimated_calls BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN input_cost_pusd BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN output_cost_pusd BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE rollup_agent_hourly
        ADD COLUMN input_audio_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN output_audio_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN input_image_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN output_image_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN web_searches BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN estimated_calls BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN input_cost_pusd BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN output_cost_pusd BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE rollup_agent_daily
        ADD COLUMN input_audio_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN output_audio_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN input_image_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN output_image_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN web_searches BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN estimated_calls BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN input_cost_pusd BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN output_cost_pusd BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE rollup_room_hourly
        ADD COLUMN input_audio_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN output_audio_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN input_image_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN output_image_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN web_searches BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN estimated_calls BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN input_cost_pusd BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN output_cost_pusd BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE rollup_room_daily
        ADD COLUMN input_audio_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN output_audio_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN input_image_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN output_image_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN web_searches BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN estimated_calls BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN input_cost_pusd BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN output_cost_pusd BIGINT NOT NULL DEFAULT 0;

    CREATE TABLE rollup_operation_hourly (
        room_id TEXT NOT NULL,
        hour BIGINT NOT NULL,
        operation TEXT NOT NULL,
        calls BIGINT NOT NULL,
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        cache_read_tokens BIGINT NOT NULL,
        cache_write_tokens BIGINT NOT NULL,
        cache_write_1h_tokens BIGINT NOT NULL,
        reasoning_tokens BIGINT NOT NULL,
        input_audio_tokens BIGINT NOT NULL,
        output_audio_tokens BIGINT NOT NULL,
        input_image_tokens BIGINT NOT NULL,
        output_image_tokens BIGINT NOT NULL,
        web_searches BIGINT NOT NULL,
        cost_pusd BIGINT NOT NULL,
        unpriced_calls BIGINT NOT NULL,
        error_calls BIGINT NOT NULL,
        estimated_calls BIGINT NOT NULL,
        input_cost_pusd BIGINT NOT NULL,
        output_cost_pusd BIGINT NOT NULL,
        PRIMARY KEY (room_id, hour, operation)
    );
    CREATE INDEX rollup_operation_hourly_hour ON rollup_operation_hourly (hour);
    INSERT INTO rollup_operation_hourly (room_id, hour, operation, calls, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, reasoning_tokens, input_audio_tokens, output_audio_tokens, input_image_tokens, output_image_tokens, web_searches, cost_pusd, unpriced_calls, error_calls, estimated_calls, input_cost_pusd, output_cost_pusd)
        SELECT room_id, hour, operation, count(*), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens),
            sum(cache_write_tokens), sum(cache_write_1h_tokens), sum(reasoning_tokens), 0, 0, 0, 0, 0,
            sum(coalesce(cost_pusd, 0)), sum((cost_pusd IS NULL)::int), sum((status = 'error')::int), 0, 0, 0
        FROM events GROUP BY room_id, hour, operation;

    CREATE TABLE rollup_latency_hourly (
        room_id TEXT NOT NULL,
        hour BIGINT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        bucket BIGINT NOT NULL,
        calls BIGINT NOT NULL,
        PRIMARY KEY (room_id, hour, provider, model, bucket)
    );
    """
