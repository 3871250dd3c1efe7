"""`whatif` and `savings` against genai-prices' calc_price of every call at its own instant, on both stores."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.advice import room_calls, savings, whatif
from matrix_usage_bot.tracking.maintenance import apply_retention
from matrix_usage_bot.tracking.periods import parse_period, zone
from matrix_usage_bot.tracking.pricing import PriceOverride, Pricer
from matrix_usage_bot.tracking.store import open_store

from .advice_calls import OTHER_ROOM, ROOM, make_calls, pico, usage_of

TZ = zone("America/New_York")
PERIOD = "2026-10"
TARGETS = (("deepseek-chat", "deepseek", "deepseek-chat"),
           ("anthropic/claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"),
           ("gemini-2.5-pro", "google", "gemini-2.5-pro"),
           ("openai/gpt-4.1-mini", "openai", "gpt-4.1-mini"))  # fmt: skip


@pytest.fixture
async def loaded(store_url):
    calls = make_calls()
    async with tracking.Tracker(store_url) as tracker:
        for call in calls:
            tracker.record(**call)
    store = await open_store(store_url)
    yield store, calls
    await store.close()


def in_period(calls: list[dict]) -> list[dict]:
    period = parse_period(PERIOD, TZ)
    return [c for c in calls if c["room_id"] == ROOM and period.start <= c["ts"] < period.end]


@pytest.mark.parametrize(("text", "provider", "model"), TARGETS)
async def test_whatif_is_every_call_priced_on_the_model_at_its_own_time(loaded, text, provider, model):
    store, calls = loaded
    result = await whatif(store, Pricer(), parse_period(PERIOD, TZ), (ROOM,), text)
    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # calls, then, unpriced then, on model
    for c in in_period(calls):
        row = expected[c["agent"]]
        then = pico(c["provider"], c["model"], c["ts"], usage_of(c))
        row[0] += 1
        row[1] += then or 0
        row[2] += then is None
        row[3] += pico(provider, model, c["ts"], usage_of(c))
    assert (result.target.provider, result.target.model, result.target.known) == (provider, model, True)
    got = {r.agent: [r.calls, r.cost_pusd, r.unpriced_calls, r.whatif_pusd] for r in result.rows}
    assert got == dict(expected)
    assert all(r.whatif_unpriced_calls == 0 for r in result.rows)
    assert result.totals.whatif_pusd == sum(v[3] for v in expected.values())
    assert result.totals.unpriced_calls == sum(v[2] for v in expected.values()) > 0  # the local model, unpriced then
    assert result.summed_calls == 0
    finer = [c for c in in_period(calls) if c.get("web_searches") or c.get("input_audio_tokens")
             or c.get("cache_write_1h_tokens")]  # fmt: skip
    assert result.calls_priced_one_by_one == len(finer)  # the rest in groups: no call priced alone


async def test_a_model_nothing_prices_counts_every_call_apart(loaded):
    store, calls = loaded
    result = await whatif(store, Pricer(), parse_period(PERIOD, TZ), (ROOM,), "acme/frontier-9")
    assert (result.target.name, result.target.known) == ("acme/frontier-9", False)
    assert result.totals.calls == len(in_period(calls))
    assert (result.totals.whatif_pusd, result.totals.whatif_unpriced_calls) == (0, len(in_period(calls)))


async def test_savings_is_caching_billed_as_plain_input_minus_the_cost_by_agent_and_model(loaded):
    store, calls = loaded
    result = await savings(store, Pricer(), parse_period(PERIOD, TZ), (ROOM,))
    expected: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # calls, input, cache read, saved
    for c in in_period(calls):
        row = expected[(c["agent"], c["model"])]
        row[0] += 1
        row[1] += c["input_tokens"]
        row[2] += c.get("cache_read_tokens", 0)
        made = pico(c["provider"], c["model"], c["ts"], usage_of(c))
        if made is not None:
            row[3] += pico(c["provider"], c["model"], c["ts"], usage_of(c, cache=False)) - made
    got = {(r.agent, r.model): [r.calls, r.input_tokens, r.cache_read_tokens, r.saved_pusd] for r in result.rows}
    assert got == dict(expected)
    assert result.totals.saved_pusd == sum(v[3] for v in expected.values()) != 0
    rates = {key: Decimal(v[2]) / v[1] if v[1] else None for key, v in expected.items()}
    assert {(r.agent, r.model): r.hit_rate for r in result.rows} == rates


async def test_calls_older_than_the_retention_are_priced_from_their_slot_sums(store_url):
    """Raw events deleted by retention: the rollup's quarter-hour sums priced at the slot's start (said so)."""
    old = [dict(provider="openai", model="gpt-4o", input_tokens=1_000 + i, output_tokens=70 + i, cache_read_tokens=i,
                ts=datetime(2026, 10, 2, 9, 3 + i, tzinfo=UTC), agent="scout", room_id=ROOM, event_id=f"old{i}")
           for i in range(0, 30, 3)]  # fmt: skip
    new = [dict(provider="mistral", model="mistral-large-latest", input_tokens=2_000, output_tokens=99,
                ts=datetime(2026, 10, 20, 15, 47, 31, tzinfo=UTC), agent="scout", room_id=ROOM, event_id="new")]
    async with tracking.Tracker(store_url) as tracker:
        for call in old + new + [dict(new[0], room_id=OTHER_ROOM, event_id="x", ts=datetime(2026, 10, 2, 8, 0))]:
            tracker.record(**call)
    store = await open_store(store_url)
    try:
        cutoff = datetime(2026, 10, 10, tzinfo=UTC)
        await apply_retention(store, 1, now_ms=int(cutoff.timestamp() * 1000) + 86_400_000)
        period = parse_period(PERIOD, TZ)
        result = await whatif(store, Pricer(), period, (ROOM,), "gpt-4.1-nano")
        slots: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for c in old:
            for key, value in usage_of(c).items():
                slots[int(c["ts"].timestamp()) // 900][key] += value
        nano = ("openai", "gpt-4.1-nano")
        expected = sum(pico(*nano, datetime.fromtimestamp(s * 900, UTC), u) for s, u in slots.items())
        expected += pico(*nano, new[0]["ts"], usage_of(new[0]))
        assert (result.summed_calls, result.totals.calls) == (len(old), len(old) + 1)
        assert result.totals.whatif_pusd == expected
        assert (await room_calls(store, period, (ROOM,))).summed_calls == len(old)
    finally:
        await store.close()


async def test_prices_in_fractions_of_a_pico_dollar_are_summed_call_by_call(loaded):
    """An override of $0.0000003 a million input tokens is 0.3 pico-dollars a token: each call's cost is rounded
    on its own (input and output parts, half to even), so its calls are read again and priced one by one."""
    store, calls = loaded
    overrides = [PriceOverride(match="acme/*", input=Decimal("0.0000003"), output=Decimal("0.0000007"))]
    result = await whatif(store, Pricer(overrides), parse_period(PERIOD, TZ), (ROOM,), "acme/tiny")
    expected: dict[str, int] = defaultdict(int)
    for c in in_period(calls):
        parts = (Decimal(c["input_tokens"]) * Decimal("0.3"), Decimal(c["output_tokens"]) * Decimal("0.7"))
        expected[c["agent"]] += sum(int(p.to_integral_value(rounding=ROUND_HALF_EVEN)) for p in parts)
    assert {r.agent: r.whatif_pusd for r in result.rows} == dict(expected)
    assert result.target.known and result.calls_priced_one_by_one == len(in_period(calls))
