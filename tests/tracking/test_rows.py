"""The writer's validation and pricing of recorded calls (`recorded_to_row`)."""

import re
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from matrix_usage_bot.tracking.fields import COLUMN, Counts
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.rows import Recorded, recorded_to_row
from matrix_usage_bot.tracking.validation import InvalidEvent

PRICER = Pricer()
GOOD = dict(
    ts=1_767_225_600.0, event_id="e1", provider="openai", model="gpt-4o", input_tokens=1000, output_tokens=200,
    cache_read_tokens=400, cache_write_tokens=0, reasoning_tokens=0, operation=None, latency_ms=12.5, status="ok",
    metadata=None, room_id="!r:x", thread_id=None, agent="a", user_id=None, session_id=None, cache_write_1h_tokens=0,
)  # fmt: skip


def row(**changes):
    return recorded_to_row(Recorded(**(GOOD | changes)), PRICER, time.time())


def test_a_valid_record_becomes_a_priced_row():
    r = row()
    assert r[:11] == ("e1", 1_767_225_600_000, 1_767_225_600_000 // 3_600_000, "!r:x", "", "a", "", None, "chat",
                      "openai", "gpt-4o")  # fmt: skip
    cost = PRICER.price_pico_ms("openai", "gpt-4o", 1_767_225_600_000,
                                Counts(input_tokens=1000, output_tokens=200, cache_read_tokens=400))
    # gpt-4o: $10 per million output tokens, so the output part is 200 * 10 µUSD
    assert r[11:] == (1000, 200, 400, 0, 0, 0, 0, 0, 0, 0, 0, cost, 12.5, "ok", None, "provider",
                      cost - 2_000_000_000, 2_000_000_000, "tracker")  # fmt: skip
    assert r[COLUMN["cost_pusd"]] is not None and r[COLUMN["cost_pusd"]] > 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"input_tokens": -1, "cache_read_tokens": 0}, "input_tokens: must not be negative, got -1"),
        ({"output_tokens": 1.5}, "output_tokens: must be an integer, got 1.5"),
        ({"input_tokens": True}, "input_tokens: must be an integer, got True"),
        ({"provider": ""}, "provider: must not be empty"),
        ({"model": None}, "model: is required (a non-empty string)"),
        ({"status": "maybe"}, "status: must be 'ok' or 'error', got 'maybe'"),
        ({"latency_ms": -1.0}, "latency_ms: must be a finite number of milliseconds, at least 0, got -1.0"),
        ({"latency_ms": "fast"}, "latency_ms: must be a finite number of milliseconds, at least 0, got 'fast'"),
        ({"latency_ms": float("nan")}, "latency_ms: must be a finite number of milliseconds, at least 0, got nan"),
        ({"latency_ms": float("-inf")}, "latency_ms: must be a finite number of milliseconds, at least 0, got -inf"),
        ({"latency_ms": 10**400}, "latency_ms: must be a finite number of milliseconds, at least 0, got an integer"),
        ({"metadata": {"x": "y" * 5000}}, "metadata: is 5008 bytes of JSON"),
        ({"metadata": {"x": float("inf")}}, "metadata: must be a JSON object: Out of range float values"),
        ({"metadata": {"x\x00": 1}}, "metadata: holds a NUL character"),
        ({"ts": "next tuesday"}, "ts: must be ISO-8601 text, a datetime or Unix seconds, got 'next tuesday'"),
        ({"ts": float("nan")}, "ts: must lie between 2000-01-01 and 2100-01-01 (UTC), got nan"),
        ({"ts": -1.0}, "ts: must lie between 2000-01-01 and 2100-01-01 (UTC), got -1.0"),
        ({"ts": 1e12}, "ts: must lie between 2000-01-01 and 2100-01-01 (UTC), got 1000000000000.0"),
        ({"ts": True}, "ts: must be a datetime, ISO-8601 text or Unix seconds, got True"),
        ({"room_id": 5}, "room_id: must be a string, got 5"),
        ({"agent": "a\x00b"}, "agent: holds a NUL character (\\x00), which PostgreSQL cannot store in text"),
        ({"model": "gpt\udc80"}, "model: holds a lone surrogate (U+DC80), which is not Unicode text"),
        ({"input_tokens": 10**12}, "input_tokens: is 1,000,000,000,000, more than one call can use"),
        ({"output_tokens": 2**64}, "output_tokens: is 18,446,744,073,709,551,616, more than one call can use"),
        ({"event_id": 7}, "event_id: must be a string, got 7"),
        ({"event_id": ""}, "event_id: must not be empty"),
        ({"operation": ["chat"]}, "operation: must be a string, got ['chat']"),
    ],
)
def test_each_broken_rule_is_named(changes, message):
    with pytest.raises(InvalidEvent, match=re.escape(message)):
        row(**changes)


def test_values_the_fast_check_leaves_to_the_full_rules_are_still_accepted():
    class Name(str):
        pass

    assert row(provider=Name("openai"), latency_ms=3)[9:11] == ("openai", "gpt-4o")
    assert row(metadata={"b": 1, "a": "x"})[COLUMN["metadata"]] == '{"a":"x","b":1}'
    assert row(ts=None, event_id=None)[0] != row(ts=None, event_id=None)[0]
    assert row(room_id=Name("!r:x"))[3] == "!r:x"


def test_timestamps_in_every_accepted_form_mean_the_same_instant():
    """A naive datetime (or ISO-8601 text without an offset) is UTC, as for every entry point."""
    expected = 1_767_225_600_000
    for ts in (1_767_225_600, 1_767_225_600.0, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1),
               datetime(2026, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))), "2026-01-01T01:00:00+01:00",
               "2026-01-01"):  # fmt: skip
        assert row(ts=ts)[1] == expected, ts


def test_a_cost_above_what_one_call_may_cost_is_refused_not_left_to_overflow_the_store():
    from matrix_usage_bot.tracking.pricing import PriceOverride

    pricer = Pricer([PriceOverride(match="openai/gpt-4o", input=10**9, output=0)])
    with pytest.raises(InvalidEvent, match=re.escape("cost_usd: openai/gpt-4o prices this call at $1,000,000,000.00")):
        recorded_to_row(Recorded(**(GOOD | {"input_tokens": 1_000_000})), pricer, time.time())


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"cache_write_tokens": 601}, "cache_read_tokens + cache_write_tokens (1001) exceed input_tokens (1000)"),
        ({"reasoning_tokens": 201}, "reasoning_tokens (201) exceed output_tokens (200)"),
    ],
)
def test_a_report_whose_parts_do_not_fit_is_stored_as_reported_and_logged_once(changes, problem, caplog):
    model = f"gpt-4o-{len(problem)}"  # a model of its own, so this test's note is its first
    stored = [row(model=model, **changes) for _ in range(3)]
    for r in stored:
        assert [r[COLUMN[name]] for name in changes] == list(changes.values())
    notes = [rec.getMessage() for rec in caplog.records if "do not fit" in rec.getMessage()]
    assert notes == [f"openai/{model} reported usage whose parts do not fit its totals ({problem}); stored as reported"]
