from decimal import Decimal

import pytest
from pydantic import ValidationError

from matrix_usage_bot.tracking.events import UsageEvent, describe_validation_error


def event(**kw):
    return UsageEvent(provider="openai", model="gpt-4o", **kw)


def test_defaults_and_totals():
    e = event(input_tokens=1200, output_tokens=300, cache_read_tokens=200, reasoning_tokens=100)
    assert e.total_tokens == 1500
    assert e.status == "ok" and e.operation == "chat" and e.cost_usd is None and not e.priced
    assert e.ts.tzinfo is not None and len(e.event_id) == 32


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"input_tokens": -1}, "input_tokens: must not be negative, got -1"),
        ({"colour": "blue"}, "colour: unknown field"),
        ({"status": "maybe"}, "status: must be 'ok' or 'error', got 'maybe'"),
        ({"cost_usd": Decimal("-1")}, "cost_usd: must be a number of US dollars from 0 to 1,000,000, got Decimal("),
        ({"cost_usd": float("nan")}, "cost_usd: must be a number of US dollars from 0 to 1,000,000, got nan"),
        ({"latency_ms": float("inf")}, "latency_ms: must be a finite number of milliseconds, at least 0, got inf"),
        ({"metadata": {"x": "y" * 5000}}, "metadata: is 5008 bytes of JSON"),
    ],
)
def test_bad_fields_are_named(fields, message):
    with pytest.raises(ValidationError) as info:
        event(**fields)
    assert message in describe_validation_error(info.value)


def test_naive_timestamps_are_utc():
    from datetime import datetime

    e = event(ts=datetime(2026, 3, 1, 12, 0))
    assert e.ts.isoformat() == "2026-03-01T12:00:00+00:00"
