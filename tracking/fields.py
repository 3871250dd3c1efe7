"""The usage event's columns and counters, declared once.

Everything that lists them derives from here: the stored row (`EVENT_COLUMNS`), the validation of
counts, the rollup sums and their SQL, `Sums`, the aggregation of a batch, and the CSV and JSON
columns. Adding a counter is a line in `COUNTERS`, a migration that adds its column to `events`
and to every rollup table, and the places that show it.
"""

from __future__ import annotations

from dataclasses import dataclass

ATTRIBUTION = ("room_id", "thread_id", "agent", "user_id", "session_id", "operation")

COUNTERS = (
    "input_tokens",  # every prompt token, cache reads and writes included
    "output_tokens",  # every completion token, reasoning included
    "cache_read_tokens",  # part of input_tokens
    "cache_write_tokens",  # part of input_tokens
    "cache_write_1h_tokens",  # part of cache_write_tokens written to the 1-hour cache
    "reasoning_tokens",  # part of output_tokens
    "input_audio_tokens",  # part of input_tokens that was audio
    "output_audio_tokens",  # part of output_tokens that was audio
    "input_image_tokens",  # part of input_tokens that was images
    "output_image_tokens",  # part of output_tokens that was images
    "web_searches",  # server-side web searches the provider ran and bills per search
)
"""Integer counts of one call, stored per event and summed in every rollup."""

FINER = ("cache_write_1h_tokens", "input_audio_tokens", "output_audio_tokens", "input_image_tokens",
         "output_image_tokens", "web_searches")  # fmt: skip
"""The counts beyond the first five that genai-prices prices apart, in the order `Pricer.price_parts_ms` takes them."""

PARTS = (
    ("cache_read_tokens", "input_tokens"),
    ("cache_write_tokens", "input_tokens"),
    ("cache_write_1h_tokens", "cache_write_tokens"),
    ("reasoning_tokens", "output_tokens"),
    ("input_audio_tokens", "input_tokens"),
    ("output_audio_tokens", "output_tokens"),
    ("input_image_tokens", "input_tokens"),
    ("output_image_tokens", "output_tokens"),
)
"""(part, whole): a part never exceeds its whole; cache reads and writes together never exceed input."""

EVENT_COLUMNS = (
    "event_id", "ts_ms", "hour", "room_id", "thread_id", "agent", "user_id", "session_id", "operation",
    "provider", "model", *COUNTERS, "cost_pusd", "latency_ms", "status", "metadata",
    "usage_source", "input_cost_pusd", "output_cost_pusd", "source",
)  # fmt: skip
"""A stored event row, in this order everywhere a row is a tuple."""

COLUMN = {name: i for i, name in enumerate(EVENT_COLUMNS)}


@dataclass(frozen=True)
class SumSpec:
    """One additive total of a group of events, and how SQL computes it over raw `events` rows."""

    name: str
    over_events: str


SUMS = (
    SumSpec("calls", "count(*)"),
    *(SumSpec(name, f"sum({name})") for name in COUNTERS),
    SumSpec("cost_pusd", "sum(coalesce(cost_pusd, 0))"),  # the priced calls only
    SumSpec("unpriced_calls", "sum(cost_pusd IS NULL)"),
    SumSpec("error_calls", "sum(status = 'error')"),
    SumSpec("estimated_calls", "sum(usage_source = 'estimated')"),
    SumSpec("input_cost_pusd", "sum(coalesce(input_cost_pusd, 0))"),  # the part of cost_pusd billed for input
    SumSpec("output_cost_pusd", "sum(coalesce(output_cost_pusd, 0))"),  # the rest of it: output
)
SUM_NAMES = tuple(s.name for s in SUMS)
COST_SUMS = tuple(name for name in SUM_NAMES if name.endswith("_pusd"))
"""Sums of pico-dollars: read as two halves (`store.base.SPLIT`) so no SQL sum can wrap 64 bits."""
USAGE_SOURCES = ("provider", "estimated")
"""`usage_source` of an event: the provider reported its usage, or it was estimated (`tracking.estimate`)."""

TRACKER, INGEST, MINDROOM = "tracker", "ingest", "mindroom"
"""`source` of an event, by the way it came: `Tracker.record()` and the hooks, `usage-bot ingest`, the bot's
passive MindRoom collection. An event posted to the HTTP collector has the name of the key that posted it;
one stored before sources were kept (schema 8 and older) has "unknown"."""
UNKNOWN_SOURCE = "unknown"
ENTRY_POINTS = (TRACKER, INGEST, MINDROOM, UNKNOWN_SOURCE)
"""The sources that are not a key's name: no HTTP key may be named so, or its events could not be told apart."""
