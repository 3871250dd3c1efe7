"""The writer's validation and pricing of recorded calls (`recorded_to_row`)."""

import re
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tracking.fields import COLUMN
from tracking.pricing import Pricer
from tracking.rows import InvalidRecord, Recorded, recorded_to_row

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
    cost = PRICER.price_pico_ms("openai", "gpt-4o", 1_767_225_600_000, 1000, 200, 400, 0)
    # gpt-4o: $10 per million output tokens, so the output part is 200 * 10 µUSD
    assert r[11:] == (1000, 200, 400, 0, 0, 0, 0, 0, 0, 0, 0, cost, 12.5, "ok", None, "provider",
                      cost - 2_000_000_000, 2_000_000_000, "tracker")  # fmt: skip
    assert r[COLUMN["cost_pusd"]] is not None and r[COLUMN["cost_pusd"]] > 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"input_tokens": -1, "cache_read_tokens": 0}, "input_tokens must not be negative, got -1"),
        ({"output_tokens": 1.5}, "output_tokens must be an integer, got 1.5"),
        ({"input_tokens": True}, "input_tokens must be an integer, got True"),
        ({"provider": ""}, "provider must be a non-empty string, got ''"),
        ({"model": None}, "model must be a non-empty string, got None"),
        ({"status": "maybe"}, "status must be 'ok' or 'error', got 'maybe'"),
        ({"latency_ms": -1.0}, "latency_ms must be a non-negative number, got -1.0"),
        ({"latency_ms": "fast"}, "latency_ms must be a non-negative number, got 'fast'"),
        ({"metadata": {"x": "y" * 5000}}, "metadata is 5008 bytes of JSON"),
        ({"ts": "2026-01-01T00:00:00Z"}, "ts must be a datetime or a Unix time in seconds, got '2026-01-01T00:00:00Z'"),
        ({"ts": float("nan")}, "ts must lie between 2000-01-01 and 2100-01-01 (UTC), got nan"),
        ({"ts": -1.0}, "ts must lie between 2000-01-01 and 2100-01-01 (UTC), got -1.0"),
        ({"ts": 1e12}, "ts must lie between 2000-01-01 and 2100-01-01 (UTC), got 1000000000000.0"),
        ({"ts": True}, "ts must be a datetime or a Unix time in seconds, got True"),
        ({"room_id": 5}, "room_id must be a string, got 5"),
        ({"input_tokens": 10**12}, "input_tokens is 1,000,000,000,000, more than one call can use"),
        ({"output_tokens": 2**64}, "output_tokens is 18,446,744,073,709,551,616, more than one call can use"),
        ({"event_id": 7}, "event_id must be a string, got 7"),
        ({"operation": ["chat"]}, "operation must be a string, got ['chat']"),
    ],
)
def test_each_broken_rule_is_named(changes, message):
    with pytest.raises(InvalidRecord, match=re.escape(message)):
        row(**changes)


def test_values_the_fast_check_leaves_to_the_full_rules_are_still_accepted():
    class Name(str):
        pass

    assert row(provider=Name("openai"), latency_ms=3)[9:11] == ("openai", "gpt-4o")
    assert row(metadata={"b": 1, "a": "x"})[COLUMN["metadata"]] == '{"a":"x","b":1}'
    assert row(ts=None, event_id=None)[0] != row(ts=None, event_id=None)[0]
    assert row(room_id=Name("!r:x"))[3] == "!r:x"


def test_timestamps_in_every_accepted_form_mean_the_same_instant():
    """A naive datetime is UTC, as for UsageEvent (not the machine's local time)."""
    expected = 1_767_225_600_000
    for ts in (1_767_225_600, 1_767_225_600.0, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1),
               datetime(2026, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))):  # fmt: skip
        assert row(ts=ts)[1] == expected, ts


def test_a_cost_above_what_one_call_may_cost_is_refused_not_left_to_overflow_the_store():
    from tracking.pricing import PriceOverride

    pricer = Pricer([PriceOverride(match="openai/gpt-4o", input=10**9, output=0)])
    with pytest.raises(InvalidRecord, match=re.escape("openai/gpt-4o prices this call at $1,000,000,000.00")):
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
