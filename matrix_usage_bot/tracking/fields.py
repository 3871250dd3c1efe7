"""The usage event's columns and counters, declared once.

Everything that lists them derives from here, by name: the counts hooks report (`Counts`), `record()`'s
keywords and the queued row (`tracking.recorded`), the validation of counts and of their parts, pricing, the
stored row (`EVENT_COLUMNS`), the rollup sums and their SQL, `Sums`, the aggregation of a batch, the event
JSON of the HTTP tracker, and the CSV and JSON columns. Adding a counter is a line in `COUNTER_TABLE`, a
migration that adds its column to `events` and to every rollup table, and the hooks that report it.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from operator import add
from typing import Any

ATTRIBUTION = ("room_id", "thread_id", "agent", "user_id", "session_id", "operation")


@dataclass(frozen=True)
class Counter:
    """One integer count of a call: stored per event, summed in every rollup, priced by genai-prices.

    Its name is its genai-prices `Usage` key unless `usage_key` says otherwise. A part (`part_of` its whole)
    never exceeds the whole, and the parts of one whole that share a `kind` never overlap, so together they
    never exceed it either (cache reads and writes; audio and image tokens); parts of other kinds may overlap
    (cache reads may be audio). A report that breaks this is stored as the provider made it, and logged.
    """

    name: str
    part_of: str | None = None
    kind: str | None = None
    usage_key: str | None = None


COUNTER_TABLE = (
    Counter("input_tokens"),  # every prompt token, cache reads and writes included
    Counter("output_tokens"),  # every completion token, reasoning included
    Counter("cache_read_tokens", "input_tokens", "cache"),
    Counter("cache_write_tokens", "input_tokens", "cache"),
    Counter("cache_write_1h_tokens", "cache_write_tokens", "ttl"),  # the writes to the 1-hour cache
    Counter("reasoning_tokens", "output_tokens", "reasoning", usage_key="output_reasoning_tokens"),
    Counter("input_audio_tokens", "input_tokens", "modality"),
    Counter("output_audio_tokens", "output_tokens", "modality"),
    Counter("input_image_tokens", "input_tokens", "modality"),
    Counter("output_image_tokens", "output_tokens", "modality"),
    Counter("web_searches"),  # server-side web searches the provider ran and bills per search
)
"""The counters, one line each: adding one is a line here, the migration that adds its column to `events` and
to every rollup table, and the hooks that report it. Everything else derives from this table, by name."""

COUNTERS = tuple(counter.name for counter in COUNTER_TABLE)
"""Integer counts of one call, stored per event and summed in every rollup."""
CORE = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")
"""The five counters of docs/events.md beside the total, which every model's price covers."""
FINER = tuple(name for name in COUNTERS if name not in CORE)
"""The counts beyond the first five, which genai-prices prices apart (1-hour cache writes, audio, ...)."""
USAGE_KEYS = {counter.name: counter.usage_key or counter.name for counter in COUNTER_TABLE}
"""Each counter's key in genai-prices' `Usage`."""
PARTS = tuple((counter.name, counter.part_of) for counter in COUNTER_TABLE if counter.part_of)
"""(part, whole): a part never exceeds its whole."""
SPLITS: tuple[tuple[tuple[str, ...], str], ...] = tuple(
    (tuple(c.name for c in COUNTER_TABLE if (c.part_of, c.kind) == key), key[0])
    for key in dict.fromkeys((c.part_of, c.kind) for c in COUNTER_TABLE if c.part_of)
)  # fmt: skip
"""(parts, whole): parts of one whole that never overlap, which together never exceed it."""


class Counts(namedtuple("Counts", COUNTERS, defaults=(0,) * len(COUNTERS))):
    """One call's counts by the field table's names (each 0 unless given), in the conventions of docs/events.md,
    which every hook converts its runtime's report to: what hooks report, `record()` takes, pricing prices."""

    __slots__ = ()

    def plus(self, other: Counts) -> Counts:
        return Counts._make(map(add, self, other))

    def given(self) -> dict[str, Any]:
        """The counts that are not 0, by name (`record()`'s keywords)."""
        return {name: value for name, value in zip(COUNTERS, self, strict=True) if value}


ZERO = Counts()

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
