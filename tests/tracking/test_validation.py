"""The one validation: the writer's compiled fast path agrees with the full rules, and every way in to them
(the hooks' check, `UsageEvent`, an HTTP key's name) gives the table's reason."""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from matrix_usage_bot.tracking.events import UsageEvent, describe_validation_error
from matrix_usage_bot.tracking.fields import COUNTERS, Counts
from matrix_usage_bot.tracking.hooks._common import unfit
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.rows import Recorded, recorded_to_row, values_to_row
from matrix_usage_bot.tracking.validation import RULES, InvalidEvent, clean

PRICER = Pricer()
_TEXT = st.one_of(st.none(), st.just(""), st.text(max_size=8), st.sampled_from(["a\x00b", "x\ud800", "é", "!r:x"]),
                  st.text(min_size=256, max_size=300), st.integers(), st.booleans())  # fmt: skip
_COUNT = st.one_of(st.integers(0, 5000), st.integers(-3, 3), st.sampled_from([10**9, 10**9 + 1, 2**64, True]),
                   st.floats(allow_nan=True), st.none())  # fmt: skip
_VALUES = {
    "ts": st.one_of(st.floats(1.6e9, 1.9e9), st.floats(allow_nan=True, allow_infinity=True), st.integers(0, 2**40),
                    st.datetimes(timezones=st.just(UTC)), st.sampled_from(["2026-01-02T03:04:05Z", "soon", None])),
    "event_id": st.one_of(st.text(min_size=1, max_size=10), _TEXT),
    "provider": st.one_of(st.sampled_from(["openai", "anthropic", "local"]), _TEXT),
    "model": st.one_of(st.sampled_from(["gpt-4o", "claude-sonnet-4-5", "mine"]), _TEXT),
    "operation": _TEXT,
    "latency_ms": st.one_of(st.none(), st.floats(0, 1e6), st.floats(allow_nan=True, allow_infinity=True),
                            st.integers(-5, 10**20), st.just("fast")),
    "status": st.sampled_from(["ok", "error", "maybe", None, 1]),
    "usage_source": st.sampled_from(["provider", "estimated", "guessed", None]),
    "metadata": st.one_of(st.none(), st.just({}), st.just([1]), st.dictionaries(
        st.text(max_size=4), st.integers() | st.text(max_size=4) | st.floats(allow_nan=True), max_size=3)),
    **dict.fromkeys(("room_id", "thread_id", "agent", "user_id", "session_id"), _TEXT),
    **dict.fromkeys(COUNTERS, _COUNT),
}  # fmt: skip


def outcome(call):  # type: ignore[no-untyped-def]
    try:
        return "row", call()
    except InvalidEvent as exc:
        return "refused", str(exc)


_FIELDS = [name for name in Recorded._fields if name in _VALUES]
_VALID = {
    **dict.fromkeys(_FIELDS, st.none()), "ts": st.floats(1.6e9, 1.9e9), "event_id": st.text("abc-0123", min_size=1),
    "provider": st.sampled_from(["openai", "anthropic", "local"]), "status": st.sampled_from(["ok", "error"]),
    "model": st.sampled_from(["gpt-4o", "claude-sonnet-4-5", "mine"]), "latency_ms": st.floats(0, 1e5) | st.none(),
    "usage_source": st.sampled_from(["provider", "estimated"]), "room_id": st.sampled_from(["!r:x", "", None]),
    **dict.fromkeys(COUNTERS, st.integers(0, 3000)),
}  # fmt: skip
_CHANGES = st.lists(st.one_of([st.tuples(st.just(name), _VALUES[name]) for name in _FIELDS]), max_size=2)


@settings(max_examples=600, deadline=None, derandomize=True)
@given(st.fixed_dictionaries({name: _VALID[name] for name in _FIELDS}), _CHANGES)
def test_the_fast_path_and_the_full_rules_agree_on_every_value(valid, changes):
    """Whatever `record()` queued, the compiled fast path stores the same row (or refuses with the same
    reason) as the full rules that `ingest` and the collector use."""
    fields = {**valid, **dict(changes)}
    recorded = Recorded(**fields)
    now = time.time()
    fast = outcome(lambda: recorded_to_row(recorded, PRICER, now))
    full = outcome(lambda: values_to_row(clean({**fields, "ts": now if fields["ts"] is None else fields["ts"]}),
                                         PRICER, "tracker"))  # fmt: skip
    if fields["event_id"] is None and fast[0] == full[0] == "row":  # a new id each time
        fast, full = ("row", fast[1][1:]), ("row", full[1][1:])
    assert fast == full


def _rule_by_rule(values: dict) -> tuple:
    """What `clean` must give: each field of the table through its own rule, in table order."""
    cleaned = {}
    for name, rule in RULES.items():
        try:
            cleaned[name] = rule.given(values.get(name))
        except ValueError as exc:
            return "refused", f"{name}: {exc}"
    return "row", cleaned


_COST = st.one_of(st.none(), st.decimals(allow_nan=True), st.floats(allow_nan=True), st.integers(), st.just("0.5"))
_ANY_CHANGES = st.lists(st.one_of([st.tuples(st.just(name), strategy)
                                   for name, strategy in {**_VALUES, "cost_usd": _COST}.items()]), max_size=3)


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(st.fixed_dictionaries({name: _VALID[name] for name in _FIELDS}), _ANY_CHANGES)
def test_the_compiled_clean_gives_what_each_rule_gives(valid, changes):
    """`clean` is written out from the table (a value its rule keeps as it is skips the call): it gives, and
    refuses, exactly what calling each field's rule in table order does."""
    values = {**valid, **dict(changes)}
    found = outcome(lambda: clean(values))
    expected = _rule_by_rule(values)
    if found[0] == expected[0] == "row":  # a field left out without a constant default gets a fresh one
        for name in ("event_id", "ts", "metadata"):
            if values.get(name) is None:
                del found[1][name], expected[1][name]
    assert found == expected
    if found[0] == "row":
        assert [type(v) for v in found[1].values()] == [type(v) for v in expected[1].values()]


def test_the_rules_cover_every_field_and_nothing_else():
    assert set(RULES) == set(UsageEvent.model_fields)
    assert set(RULES) - {"cost_usd"} == set(Recorded._fields) - {"reservation"}


@pytest.mark.parametrize(("counts", "reason"), [
    (Counts(input_tokens=10, output_tokens=-4), "output_tokens: must not be negative, got -4"),
    (Counts(input_tokens=2 * 10**9, output_tokens=5),
     "input_tokens: is 2,000,000,000, more than one call can use (at most 1,000,000,000)"),
    (Counts(input_tokens=10, output_tokens=5, cache_read_tokens=8, cache_write_tokens=4),
     "cache_read_tokens + cache_write_tokens (12) exceed input_tokens (10)"),
    (Counts(input_tokens=10, output_tokens=5, cache_write_tokens=2, cache_write_1h_tokens=3),
     "cache_write_1h_tokens (3) exceed cache_write_tokens (2)"),
    (Counts(input_tokens=10, output_tokens=5, output_audio_tokens=4, output_image_tokens=2),
     "output_audio_tokens + output_image_tokens (6) exceed output_tokens (5)"),
    (Counts(input_tokens=10, output_tokens=5, cache_read_tokens=1, cache_write_tokens=1, reasoning_tokens=5), None),
])  # fmt: skip
def test_the_hooks_check_gives_the_reason_of_the_table(counts, reason):
    assert unfit(counts) == reason


def test_usage_event_refuses_with_the_tables_reason():
    with pytest.raises(ValidationError) as info:
        UsageEvent(provider="openai", model="gpt-4o", latency_ms=math.nan)
    assert describe_validation_error(info.value) == "latency_ms: must be a finite number of milliseconds, at least 0," \
                                                    " got nan"  # fmt: skip
    event = UsageEvent(provider="openai", model="gpt-4o", ts="2026-01-02T03:04:05.123456+01:00", operation="")
    assert event.ts == datetime(2026, 1, 2, 2, 4, 5, 123456, tzinfo=UTC)
    assert (event.operation, event.metadata) == ("chat", {})
    schema = UsageEvent.model_json_schema()
    assert schema["properties"]["agent"]["maxLength"] == 255 and schema["properties"]["provider"]["minLength"] == 1
    assert schema["properties"]["web_searches"]["maximum"] == 10**9 and set(schema["required"]) == {"provider", "model"}


@pytest.mark.parametrize(("name", "reason"), [
    ("ci\x00bot", "holds a NUL character (\\x00), which PostgreSQL cannot store in text"),
    ("k" * 65, "is 65 characters; at most 64 allowed"),
    ("", "must not be empty"),
])  # fmt: skip
def test_an_http_keys_name_is_text_every_store_takes(name, reason):
    """A key's name is the `source` of the events posted with it: the same text rules."""
    from matrix_usage_bot.bot.config import Config

    with pytest.raises(ValidationError, match=re.escape(reason)):
        Config.model_validate({"http": {"keys": [{"name": name, "key": "k" * 20, "rooms": "all"}]}})
