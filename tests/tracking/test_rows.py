"""The writer's validation and pricing of recorded calls (`recorded_to_row`)."""

import time

import pytest

from tracking.pricing import Pricer
from tracking.rows import InvalidRecord, Recorded, recorded_to_row

PRICER = Pricer()
GOOD = dict(
    ts=1_767_225_600.0, event_id="e1", provider="openai", model="gpt-4o", input_tokens=1000, output_tokens=200,
    cache_read_tokens=400, cache_write_tokens=0, reasoning_tokens=0, operation=None, latency_ms=12.5, status="ok",
    metadata=None, room_id="!r:x", thread_id=None, agent="a", user_id=None, session_id=None,
)  # fmt: skip


def row(**changes):
    return recorded_to_row(Recorded(**(GOOD | changes)), PRICER, time.time())


def test_a_valid_record_becomes_a_priced_row():
    r = row()
    assert r[:11] == ("e1", 1_767_225_600_000, 1_767_225_600_000 // 3_600_000, "!r:x", "", "a", "", None, "chat",
                      "openai", "gpt-4o")  # fmt: skip
    assert r[11:] == (1000, 200, 400, 0, 0, PRICER.price_pico_ms("openai", "gpt-4o", 1_767_225_600_000, 1000, 200,
                                                                 400, 0), 12.5, "ok", None)  # fmt: skip
    assert r[16] is not None and r[16] > 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"input_tokens": -1, "cache_read_tokens": 0}, "input_tokens must not be negative, got -1"),
        ({"output_tokens": 1.5}, "output_tokens must be an integer, got 1.5"),
        ({"input_tokens": True}, "input_tokens must be an integer, got True"),
        ({"cache_write_tokens": 601}, "cache_read_tokens + cache_write_tokens (1001) exceed input_tokens (1000)"),
        ({"reasoning_tokens": 201}, "reasoning_tokens (201) exceed output_tokens (200)"),
        ({"provider": ""}, "provider must be a non-empty string, got ''"),
        ({"model": None}, "model must be a non-empty string, got None"),
        ({"status": "maybe"}, "status must be 'ok' or 'error', got 'maybe'"),
        ({"latency_ms": -1.0}, "latency_ms must be a non-negative number, got -1.0"),
        ({"latency_ms": "fast"}, "latency_ms must be a non-negative number, got 'fast'"),
        ({"metadata": {"x": "y" * 5000}}, "metadata is 5008 bytes of JSON"),
    ],
)
def test_each_broken_rule_is_named(changes, message):
    with pytest.raises(InvalidRecord, match=message.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        row(**changes)


def test_values_the_fast_check_leaves_to_the_full_rules_are_still_accepted():
    class Name(str):
        pass

    assert row(provider=Name("openai"), latency_ms=3)[9:11] == ("openai", "gpt-4o")
    assert row(metadata={"b": 1, "a": "x"})[19] == '{"a":"x","b":1}'
    assert row(ts=None, event_id=None)[0] != row(ts=None, event_id=None)[0]
