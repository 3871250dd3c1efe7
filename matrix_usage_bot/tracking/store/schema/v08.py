"""Version 8, as released (frozen): everything genai-prices prices beyond the first counters (audio and image
tokens, web searches), whether the usage was reported or estimated, the input and output parts of each cost,
and two rollups per room and UTC hour: by operation (filled from the raw events still held), and latency
histograms per model (`tracking.latency`; they start with this version)."""

from __future__ import annotations

from .declare import Dialect, Table, counts, text
from .upgrades import upgrade_table
from .v01_07 import HOURLY_TABLES, sum_rollup

V8_SUMS = ("calls", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens",
           "reasoning_tokens", "input_audio_tokens", "output_audio_tokens", "input_image_tokens", "output_image_tokens",
           "web_searches", "cost_pusd", "unpriced_calls", "error_calls", "estimated_calls", "input_cost_pusd",
           "output_cost_pusd")  # fmt: skip
"""The sums every rollup keeps from this version on, in the order of the tables it creates."""
V8_COUNTERS = ("input_audio_tokens", "output_audio_tokens", "input_image_tokens", "output_image_tokens", "web_searches")
V8_ADDED_SUMS = (*V8_COUNTERS, "estimated_calls", "input_cost_pusd", "output_cost_pusd")


def _filled_operations(d: Dialect) -> str:
    summed = ("count(*)", *(f"sum({name})" for name in V8_SUMS[1:7]), "0", "0", "0", "0", "0",
              "sum(coalesce(cost_pusd, 0))", d.count_if("cost_pusd IS NULL"), d.count_if("status = 'error'"), "0",
              "0", "0")  # fmt: skip
    return (f"INSERT INTO rollup_operation_hourly (room_id, hour, operation, {', '.join(V8_SUMS)})"
            f" SELECT room_id, hour, operation, {', '.join(summed)} FROM events GROUP BY room_id, hour, operation")


@upgrade_table.register(8, "finer counts, usage source, cost parts; rollups by operation and latency histograms")
def v8(d: Dialect) -> list[str]:
    # SQLite's ALTER TABLE added the new counts without their CHECK (version 9 rebuilt the table with it)
    checked = d.name == "postgresql"
    room, hour = text("room_id"), counts("hour")
    latency = Table("rollup_latency_hourly", (room, *hour, text("provider"), text("model"), *counts("bucket", "calls")),
                    ("room_id", "hour", "provider", "model", "bucket"), rowid=False)  # fmt: skip
    return [
        *(d.add_column("events", c) for c in counts(*V8_COUNTERS, default="0", check=checked)),
        d.add_column("events", text("usage_source", default="'provider'")),
        *(d.add_column("events", c) for c in counts("input_cost_pusd", "output_cost_pusd", null=True)),
        *(d.add_column(table, c) for table in HOURLY_TABLES for c in counts(*V8_ADDED_SUMS, default="0")),
        *d.create(sum_rollup("rollup_operation_hourly", (room, *hour, text("operation")),
                              ("rollup_operation_hourly_hour", "hour"), sums=V8_SUMS)),
        _filled_operations(d),
        *d.create(latency),
    ]

