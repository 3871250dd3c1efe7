"""What every store shares: the row layout, group keys, filters, sums and errors."""

from __future__ import annotations

from dataclasses import dataclass

EVENT_COLUMNS = (
    "event_id",
    "ts_ms",
    "hour",
    "room_id",
    "thread_id",
    "agent",
    "user_id",
    "session_id",
    "operation",
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_pusd",
    "latency_ms",
    "status",
    "metadata",
)

GROUP_COLUMNS = {
    "agent": "agent",
    "model": "model",
    "user": "user_id",
    "room": "room_id",
    "thread": "thread_id",
    "hour": "hour",
}

FILTER_COLUMNS = frozenset({"room_id", "thread_id", "agent", "user_id"})

MS_PER_HOUR = 3_600_000
SPLIT = 1_000_000
"""Reports sum costs as `sum(c / SPLIT), sum(c % SPLIT)`: neither part can wrap 64 bits, their combination is exact."""


class Filters(dict[str, str | tuple[str, ...]]):
    """Filters on attribution columns: a value, or a tuple of accepted values. Only known columns."""

    def __init__(self, **values: str | tuple[str, ...] | None) -> None:
        unknown = set(values) - FILTER_COLUMNS
        if unknown:
            raise ValueError(f"unknown filter {', '.join(sorted(unknown))}")
        super().__init__({key: value for key, value in values.items() if value is not None})


@dataclass(slots=True)
class Sums:
    """Additive totals of a group of events. `cost_pusd` sums the priced calls only."""

    key: str | int | None = None
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_pusd: int = 0
    unpriced_calls: int = 0
    error_calls: int = 0

    @classmethod
    def from_row(cls, row: tuple) -> Sums:
        """A row of (key, calls, four token sums, reasoning, cost / SPLIT, cost % SPLIT, unpriced, errors)."""
        v = [int(x or 0) for x in row[1:]]
        return cls(row[0], v[0], v[1], v[2], v[3], v[4], v[5], v[6] * SPLIT + v[7], v[8], v[9])

    def add(self, other: Sums) -> None:
        self.calls += other.calls
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.reasoning_tokens += other.reasoning_tokens
        self.cost_pusd += other.cost_pusd
        self.unpriced_calls += other.unpriced_calls
        self.error_calls += other.error_calls

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class StoreError(Exception):
    """The usage database cannot be used; the message says why in one line."""
