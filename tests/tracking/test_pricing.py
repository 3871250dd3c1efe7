import random
import warnings
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price, data_snapshot

from matrix_usage_bot.tracking.fields import Counts
from matrix_usage_bot.tracking.pricing import PriceOverride, Pricer, pico_to_usd

TS = datetime(2026, 11, 1, 12, tzinfo=UTC)


def genai(provider: str, model: str, t: Counts, ts: datetime = TS) -> Decimal:
    usage = Usage(input_tokens=t.input_tokens, output_tokens=t.output_tokens, cache_read_tokens=t.cache_read_tokens,
                  cache_write_tokens=t.cache_write_tokens)
    return calc_price(usage, model, provider_id=provider, genai_request_timestamp=ts).total_price


def test_known_model_matches_genai_prices_exactly():
    pricer = Pricer()
    t = Counts(input_tokens=1200, output_tokens=300, cache_read_tokens=200)
    assert pricer.price_usd("openai", "gpt-4o", TS, t) == genai("openai", "gpt-4o", t) == Decimal("0.00575")


def test_anthropic_cache_tokens_and_tiers():
    pricer = Pricer()
    small = Counts(input_tokens=5000, output_tokens=300, cache_read_tokens=3000, cache_write_tokens=1000)
    big = Counts(input_tokens=250_000, output_tokens=1000, cache_read_tokens=100_000,
                 cache_write_tokens=20_000)  # above the 200k tier
    for t in (small, big, small):
        assert pricer.price_usd("anthropic", "claude-sonnet-4-5", TS, t) == genai("anthropic", "claude-sonnet-4-5", t)
    base_rate = (
        Decimal(big.input_tokens - big.cache_read_tokens - big.cache_write_tokens) * 3
        + big.cache_read_tokens * Decimal("0.3")
        + big.cache_write_tokens * Decimal("3.75")
        + big.output_tokens * 15
    ) / 1_000_000
    assert genai("anthropic", "claude-sonnet-4-5", big) > base_rate  # the long-context tier applied


def test_unknown_model_or_provider_is_unpriced_not_zero():
    pricer = Pricer()
    assert pricer.price_pico("ollama", "llama3.1:8b", TS, Counts(input_tokens=10, output_tokens=5)) is None
    assert pricer.price_pico("openai", "no-such-model-xyz", TS, Counts(input_tokens=10, output_tokens=5)) is None


def test_override_wins_including_zero_and_cache_prices():
    pricer = Pricer([
        PriceOverride(match="ollama/*", input=Decimal(0), output=Decimal(0)),
        PriceOverride(match="openai/gpt-4o", input=Decimal("1"), output=Decimal("2"), cache_read=Decimal("0.1")),
        PriceOverride(match="mycorp/*", input=Decimal("0.5"), output=Decimal("1.5"), cache_write=Decimal("0.6")),
    ])
    assert pricer.price_pico("ollama", "llama3.1:8b", TS, Counts(input_tokens=10, output_tokens=5)) == 0
    # 1000 uncached at $1/M + 200 cached at $0.1/M + 300 output at $2/M
    gpt = Counts(input_tokens=1200, output_tokens=300, cache_read_tokens=200)
    assert pricer.price_usd("openai", "gpt-4o", TS, gpt) == Decimal("0.00162")
    assert pricer.price_usd("mycorp", "x", TS, Counts(input_tokens=1000, cache_write_tokens=400)) == Decimal("0.00054")
    assert pricer.price_usd("OpenAI", "GPT-4O", TS, gpt) == Decimal("0.00162")


def test_aliases():
    assert Pricer().price_usd("gemini", "gemini-2.5-flash", TS, Counts(input_tokens=1000, output_tokens=100)) == genai(
        "google", "gemini-2.5-flash", Counts(input_tokens=1000, output_tokens=100)
    )


@pytest.mark.parametrize("provider_id", ["openai", "anthropic", "google", "groq", "mistral", "deepseek", "together"])
def test_fast_path_equals_genai_prices_for_every_model(provider_id):
    """The cached affine pricing must give exactly what genai-prices gives, model by model."""
    rng = random.Random(provider_id)
    provider = next(p for p in data_snapshot.get_snapshot().providers if p.id == provider_id)
    pricer = Pricer()
    for model in provider.models:
        for _ in range(6):
            inp = rng.choice([0, 1, 999, 150_000, 199_999, 200_000, 200_001, 350_000, rng.randint(0, 2_000_000)])
            cr = rng.randint(0, inp)
            cw = rng.randint(0, inp - cr)
            t = Counts(input_tokens=inp, output_tokens=rng.randint(0, 50_000), cache_read_tokens=cr,
                       cache_write_tokens=cw)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    expected = genai(provider_id, model.id, t)
                except (LookupError, ValueError):
                    continue
            got = pricer.price_pico(provider_id, model.id, TS, t)
            assert got is not None and abs(pico_to_usd(got) - expected) < Decimal("1e-12"), (model.id, t)
