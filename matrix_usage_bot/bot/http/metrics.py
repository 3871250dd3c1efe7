"""`GET /metrics`: Prometheus text computed from the store, so it counts every process that writes
there and survives restarts (the counters are all-time sums of the rollups, kept forever).

Labels are `provider` and `model`, plus `room` and `agent` when `http.metrics.labels` lists them.
Token types come from the field table (`tracking.fields.COUNTERS`, the `_tokens` suffix dropped).
The duration histogram reads the raw events' `latency_ms`, so it covers the events retention keeps.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from matrix_usage_bot.tracking.fields import COUNTERS
from matrix_usage_bot.tracking.pricing import pico_to_usd
from matrix_usage_bot.tracking.store import Store, Sums

DURATION_BUCKETS_S = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
TOKEN_TYPES = {name: name.removesuffix("_tokens") for name in COUNTERS}

Latency = tuple[tuple[str, ...], list[int], float, int]


class StoreCollector(Collector):
    """The families of one read of the store (`read`); `collect` only shapes them."""

    def __init__(self, labels: Sequence[str], sums: list[tuple[tuple[str, ...], Sums]], latencies: list[Latency]):
        self.labels = list(labels)
        self.sums = sums
        self.latencies = latencies

    @classmethod
    async def read(cls, store: Store, extra_labels: Sequence[str]) -> StoreCollector:
        groups = ("provider", "model", *extra_labels)
        bounds_ms = [b * 1000 for b in DURATION_BUCKETS_S]
        return cls(groups, await store.sum_all_time(groups), await store.latency_buckets(groups, bounds_ms))

    def collect(self) -> Iterator[Metric]:
        labels = self.labels
        calls = CounterMetricFamily("usage_calls", "LLM calls recorded", labels=labels)
        errors = CounterMetricFamily("usage_error_calls", "LLM calls recorded with status error", labels=labels)
        tokens = CounterMetricFamily("usage_tokens", "Tokens by type (OpenTelemetry GenAI conventions: input "
                                     "includes cache reads and writes, output includes reasoning)",
                                     labels=[*labels, "type"])  # fmt: skip
        cost = CounterMetricFamily("usage_cost_usd", "Cost of the priced calls, in US dollars", labels=labels)
        unpriced = CounterMetricFamily("usage_unpriced_calls", "Calls no price is known for", labels=labels)
        for key, sums in self.sums:
            values = list(key)
            calls.add_metric(values, sums.calls)
            errors.add_metric(values, sums.error_calls)
            for name, kind in TOKEN_TYPES.items():
                tokens.add_metric([*values, kind], getattr(sums, name))
            cost.add_metric(values, float(pico_to_usd(sums.cost_pusd)))
            unpriced.add_metric(values, sums.unpriced_calls)
        duration = HistogramMetricFamily("usage_call_duration_seconds", "Latency of the calls that report one",
                                         labels=labels)  # fmt: skip
        for key, counts, total_ms, count in self.latencies:
            buckets = [(_le(b), float(c)) for b, c in zip(DURATION_BUCKETS_S, counts, strict=True)]
            duration.add_metric(list(key), [*buckets, ("+Inf", float(count))], total_ms / 1000)
        yield from (calls, errors, tokens, cost, unpriced, duration)


def _le(bound: float) -> str:
    return repr(float(bound))


async def metrics_text(store: Store, extra_labels: Sequence[str]) -> tuple[bytes, str]:
    """The exposition and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(await StoreCollector.read(store, extra_labels))
    return generate_latest(registry), CONTENT_TYPE_LATEST
