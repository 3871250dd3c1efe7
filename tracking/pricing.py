"""Prices each call: configured overrides first, then `genai-prices` at the event's timestamp.

Costs are kept as integer pico-dollars (1e-12 USD) in the store, so sums are exact.

`genai-prices` takes ~100 µs per call, too slow for the writer's hot path. Within one price
period and one price tier its result is affine in the four token counts, so the first event
of each (provider, model, price period, tier) derives the coefficients from a few reference
calls, checks them against a direct call, and later events cost a handful of integer
multiplications. A model whose prices do not fit that shape is priced by direct calls.
"""

from __future__ import annotations

import fnmatch
import logging
import warnings
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)

PICO = 10**12
MILLION = 1_000_000
_REGION_SPAN = 1_000_000

PROVIDER_ALIASES = {
    "gemini": "google",
    "google-gla": "google",
    "google-vertex": "google",
    "vertexai": "google",
    "bedrock": "aws",
    "awsbedrock": "aws",
    "aws-bedrock": "aws",
    "xai": "x-ai",
    "mistralai": "mistral",
    "azure_openai": "azure",
    "azure-openai": "azure",
    "fireworks-ai": "fireworks",
    "togetherai": "together",
    "together_ai": "together",
}


class PriceOverride(BaseModel):
    """Prices in USD per million tokens for models matching a `provider/model` glob."""

    model_config = ConfigDict(extra="forbid")

    match: str = Field(min_length=1, description="glob on provider/model, e.g. 'ollama/*'")
    input: Decimal = Field(ge=0)
    output: Decimal = Field(ge=0)
    cache_read: Decimal | None = Field(default=None, ge=0)
    cache_write: Decimal | None = Field(default=None, ge=0)


@dataclass(frozen=True, slots=True)
class Tokens:
    input: int
    output: int
    cache_read: int = 0
    cache_write: int = 0


@dataclass(frozen=True, slots=True)
class _Affine:
    """cost_pico = base + input*a + output*b + cache_read*r + cache_write*w (pico-USD)."""

    base: Decimal
    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal

    def pico(self, t: Tokens) -> int:
        return self.pico4(t.input, t.output, t.cache_read, t.cache_write)

    def pico4(self, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int) -> int:
        cost = (
            self.base
            + self.input * input_tokens
            + self.output * output_tokens
            + self.cache_read * cache_read
            + self.cache_write * cache_write
        )
        return to_pico_int(cost)

    def exact_ints(self) -> tuple[int, int, int, int, int] | None:
        """The coefficients as integers when they all are (prices in whole micro-dollars per million
        tokens, i.e. nearly every price): then integer arithmetic gives the same result, faster."""
        values = (self.base, self.input, self.output, self.cache_read, self.cache_write)
        if all(v == v.to_integral_value() for v in values):
            return tuple(int(v) for v in values)  # type: ignore[return-value]
        return None


def to_pico_int(pico: Decimal) -> int:
    return int(pico.to_integral_value(rounding=ROUND_HALF_EVEN))


def usd_to_pico(usd: Decimal) -> int:
    return to_pico_int(usd * PICO)


def pico_to_usd(pico: int) -> Decimal:
    return (Decimal(pico) / PICO).normalize() if pico else Decimal(0)


class Pricer:
    """Turns (provider, model, timestamp, tokens) into pico-USD, or None when the model is unknown."""

    def __init__(self, overrides: list[PriceOverride] | None = None) -> None:
        self._overrides = list(overrides or [])
        self._override_cache: dict[str, PriceOverride | None] = {}
        self._affine_cache: dict[tuple[int, int], _Affine | None] = {}
        self._lookup_cache: dict[tuple[str, str], tuple[object, object] | None] = {}
        # (provider, model, UTC hour) -> how to price it then: see price_pico_ms
        self._plans: dict[tuple[str, str, int], tuple] = {}
        self._starts: dict[int, tuple[int, ...]] = {}
        # (id of a genai-prices price period, tier region low) -> (low, high, base, input, output,
        # cache_read, cache_write) in integer pico-USD, for affine prices with integer coefficients
        self._fast: dict[tuple[int, int], tuple[int, int, int, int, int, int, int]] = {}

    def price_pico_ms(
        self, provider: str, model: str, ts_ms: int, input_tokens: int, output_tokens: int, cache_read: int,
        cache_write: int,
    ) -> int | None:  # fmt: skip
        """`price_pico` for the writer's hot path: no datetime or Tokens per call, integer arithmetic.

        The plan for a (provider, model) in a given UTC hour (override, unknown, or a genai-prices
        price period) is looked up once per hour; within a price tier region the affine
        coefficients are integers for nearly every model, so a call costs a few multiplications.
        """
        hour = ts_ms // 3_600_000
        plan = self._plans.get((provider, model, hour))
        if plan is None:
            plan = self._plan(provider, model, hour)
        kind = plan[0]
        if kind == 0:
            return None
        if kind == 1:
            return _override_pico(plan[1], Tokens(input_tokens, output_tokens, cache_read, cache_write))
        model_price, starts = plan[1], plan[2]
        low = 0
        for start in starts:
            if input_tokens > start:
                low = start + 1
            else:
                break
        fast = self._fast.get((id(model_price), low))
        if fast is not None and fast[0] <= input_tokens <= fast[1]:
            return (fast[2] + fast[3] * input_tokens + fast[4] * output_tokens + fast[5] * cache_read
                    + fast[6] * cache_write)  # fmt: skip
        from datetime import UTC

        tokens = Tokens(input_tokens, output_tokens, cache_read, cache_write)
        return self.price_pico(provider, model, datetime.fromtimestamp(ts_ms / 1000, UTC), tokens)

    def _plan(self, provider: str, model: str, hour: int) -> tuple:
        from datetime import UTC

        if len(self._plans) > 100_000:
            self._plans.clear()
        ts = datetime.fromtimestamp(hour * 3600, UTC)
        override = self._override_for(provider, model)
        if override is not None:
            plan: tuple = (1, override)
        else:
            found = self._genai_model(provider, model, ts)
            if found is None:
                plan = (0,)
            else:
                model_price = found[1].get_prices(ts)  # type: ignore[attr-defined]
                key = id(model_price)
                if key not in self._starts:
                    self._starts[key] = _tier_starts(model_price)
                plan = (2, model_price, self._starts[key])
        self._plans[(provider, model, hour)] = plan
        return plan

    def price_pico(self, provider: str, model: str, ts: datetime, tokens: Tokens) -> int | None:
        override = self._override_for(provider, model)
        if override is not None:
            return _override_pico(override, tokens)
        found = self._genai_model(provider, model, ts)
        if found is None:
            return None
        provider_info, model_info = found
        model_price = model_info.get_prices(ts)
        region = _tier_region(model_price, tokens.input)
        key = (id(model_price), region[0])
        if key not in self._affine_cache:
            self._affine_cache[key] = _derive_affine(provider_info, model_info, ts, region, tokens)
        affine = self._affine_cache[key]
        if affine is None:
            return _direct_pico(provider_info, model_info, ts, tokens)
        if key not in self._fast:
            ints = affine.exact_ints()
            if ints is not None:
                self._fast[key] = (region[0], region[1], *ints)
        return affine.pico(tokens)

    def price_usd(self, provider: str, model: str, ts: datetime, tokens: Tokens) -> Decimal | None:
        pico = self.price_pico(provider, model, ts, tokens)
        return None if pico is None else pico_to_usd(pico)

    def _override_for(self, provider: str, model: str) -> PriceOverride | None:
        ref = f"{provider}/{model}"
        if ref not in self._override_cache:
            self._override_cache[ref] = next(
                (o for o in self._overrides if fnmatch.fnmatchcase(ref.lower(), o.match.lower())), None
            )
        return self._override_cache[ref]

    def _genai_model(self, provider: str, model: str, ts: datetime) -> tuple[object, object] | None:
        key = (provider, model)  # which model it is does not depend on the time; its prices do
        if key not in self._lookup_cache:
            self._lookup_cache[key] = _lookup(provider, model)
        return self._lookup_cache[key]


def _lookup(provider: str, model: str) -> tuple[object, object] | None:
    from genai_prices import data_snapshot

    provider_id = PROVIDER_ALIASES.get(provider.lower(), provider.lower())
    try:
        return data_snapshot.get_snapshot().find_provider_model(model, None, provider_id, None)
    except LookupError:
        return None


def _override_pico(o: PriceOverride, t: Tokens) -> int:
    uncached = t.input - t.cache_read - t.cache_write
    read = o.input if o.cache_read is None else o.cache_read
    write = o.input if o.cache_write is None else o.cache_write
    usd_millions = uncached * o.input + t.cache_read * read + t.cache_write * write + t.output * o.output
    return to_pico_int(usd_millions * PICO / MILLION)


def _direct_pico(provider_info: object, model_info: object, ts: datetime, t: Tokens) -> int:
    from genai_prices import Usage

    usage = Usage(
        input_tokens=t.input,
        output_tokens=t.output,
        cache_read_tokens=t.cache_read,
        cache_write_tokens=t.cache_write,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calc = model_info.calc_price(usage, provider_info, genai_request_timestamp=ts)  # type: ignore[attr-defined]
    return usd_to_pico(calc.total_price)


def _tier_starts(model_price: object) -> tuple[int, ...]:
    from genai_prices.types import TieredPrices

    return tuple(
        sorted({tier.start for v in vars(model_price).values() if isinstance(v, TieredPrices) for tier in v.tiers})
    )


def _tier_region(model_price: object, input_tokens: int) -> tuple[int, int]:
    """The [low, high] input-token range in which no price tier changes, containing input_tokens."""
    starts = _tier_starts(model_price)
    low, high = 0, None
    for start in starts:
        if input_tokens > start:
            low = start + 1
        else:
            high = start
            break
    return low, (low + _REGION_SPAN if high is None else high)


def _derive_affine(
    provider_info: object, model_info: object, ts: datetime, region: tuple[int, int], sample: Tokens
) -> _Affine | None:
    low, high = region
    if high <= low:
        return None
    f = lambda t: Decimal(_direct_pico(provider_info, model_info, ts, t))  # noqa: E731
    at_low, at_high = f(Tokens(low, 0)), f(Tokens(high, 0))
    per_input = (at_high - at_low) / (high - low)
    affine = _Affine(
        base=at_low - per_input * low,
        input=per_input,
        output=(f(Tokens(low, MILLION)) - at_low) / MILLION,
        cache_read=(f(Tokens(high, 0, cache_read=high)) - at_high) / high,
        cache_write=(f(Tokens(high, 0, cache_write=high)) - at_high) / high,
    )
    if affine.pico(sample) != _direct_pico(provider_info, model_info, ts, sample):
        log.info("prices of %s are not affine in tokens; pricing it call by call", getattr(model_info, "id", "?"))
        return None
    return affine
