"""The default cheaper models are cheaper per token than the models they replace, in genai-prices' own data; and
the digest's suggestion picks the largest saving, priced as whatif prices it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from genai_prices import Usage, calc_price, data_snapshot

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.advice import DEFAULT_ALTERNATIVES, Alternatives, cheaper_model, resolve_model
from matrix_usage_bot.tracking.periods import Period, zone
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.store import open_store

from .advice_calls import pico

INSTANTS = [datetime(2026, 6, 1, tzinfo=UTC) + timedelta(minutes=15 * i) for i in range(96)]
USAGES = [Usage(input_tokens=1_000), Usage(output_tokens=1_000), Usage(input_tokens=300_000),
          Usage(input_tokens=300_000, output_tokens=1_000)]  # fmt: skip


def _price(model: str, usage: Usage, ts: datetime):
    provider, _ = data_snapshot.get_snapshot().find_provider_model(model, None, None, None)
    return calc_price(usage, model, provider_id=provider.id, genai_request_timestamp=ts).total_price


@pytest.mark.parametrize(("model", "cheaper"), sorted(DEFAULT_ALTERNATIVES.items()))
def test_each_default_alternative_is_cheaper_per_token_at_every_time_of_day(model, cheaper):
    for alternative in cheaper:
        strictly = False
        for ts in INSTANTS:
            for usage in USAGES:
                ours, theirs = _price(alternative, usage, ts), _price(model, usage, ts)
                assert ours <= theirs, (alternative, model, ts, usage)
                strictly |= ours < theirs
        assert strictly, (alternative, model)


def test_names_resolve_as_the_agents_report_them():
    pricer = Pricer()
    assert resolve_model("gpt-4o-mini", pricer).name == "openai/gpt-4o-mini"
    assert resolve_model("gemini/gemini-2.5-flash", pricer).name == "gemini/gemini-2.5-flash"  # an alias: priced
    alternatives = Alternatives({"gpt-4o": ["gpt-4.1-nano"], "claude-sonnet-4-5": []})
    assert alternatives.of("openai", "gpt-4o-2024-08-06") == ("gpt-4.1-nano",)  # a dated name: its genai-prices id
    assert alternatives.of("anthropic", "claude-sonnet-4-5-20250929") == ()  # removed by the configuration
    assert alternatives.of("anthropic", "claude-opus-4-20250514") == ("claude-sonnet-4-0",)  # a default kept


async def test_the_suggestion_is_the_largest_saving_on_an_alternative(store_url):
    week = [
        ("scout", "openai", "gpt-4o", 40_000, 900),
        ("scout", "openai", "gpt-4o-mini", 90_000, 4_000),
        ("writer", "anthropic", "claude-opus-4-1", 12_000, 2_500),
        ("writer", "ollama", "qwen3:32b", 50_000, 1_000),  # no alternative, unpriced
    ]
    start = datetime(2026, 11, 9, 5, 17, tzinfo=UTC)
    calls = [dict(agent=a, provider=p, model=m, input_tokens=i + n, output_tokens=o, room_id="!s:x",
                  ts=start + timedelta(hours=7 * n), event_id=f"s{k}-{n}")
             for k, (a, p, m, i, o) in enumerate(week) for n in range(9)]  # fmt: skip
    async with tracking.Tracker(store_url) as tracker:
        for call in calls:
            tracker.record(**call)
    store = await open_store(store_url)
    try:
        tz = zone("Pacific/Auckland")
        period = Period("the last 7 days", datetime(2026, 11, 9).date(), datetime(2026, 11, 16).date(), tz)
        found = await cheaper_model(store, Pricer(), Alternatives(), period, ("!s:x",))
    finally:
        await store.close()
    inside = [c for c in calls if period.start <= c["ts"] < period.end]
    savings = {}
    for agent, provider, model, *_ in week:
        mine = [c for c in inside if c["model"] == model]
        for alternative in Alternatives().of(provider, model):
            target = resolve_model(alternative, Pricer())
            usage = [({"input_tokens": c["input_tokens"], "output_tokens": c["output_tokens"]}, c["ts"]) for c in mine]
            then = sum(pico(provider, model, ts, u) for u, ts in usage)
            on = sum(pico(target.provider, target.model, ts, u) for u, ts in usage)
            savings[(agent, model, target.name)] = (len(mine), then, on)
    best = max(savings, key=lambda k: savings[k][1] - savings[k][2])
    assert (found.agent, found.model, found.alternative) == best == ("writer", "claude-opus-4-1",
                                                                     "anthropic/claude-sonnet-4-5")  # fmt: skip
    assert (found.calls, found.cost_pusd, found.alternative_pusd) == savings[best]
