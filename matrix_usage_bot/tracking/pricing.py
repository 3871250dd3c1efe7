"""Prices each call: configured overrides first, then `genai-prices` at the event's exact millisecond.

Costs are kept as integer pico-dollars (1e-12 USD) in the store, so sums are exact; every cost is
rounded once, to the nearest pico-dollar, ties to even (`to_pico_int`).

`genai-prices` takes ~100 µs per call, too slow for the writer's hot path. A model's prices can change
only at the edges of its price periods (`price_model.price_period`: time-of-day windows, start
dates), so each (provider, model) keeps the plan of the period its last event fell in and reuses it
while events stay inside. Within one period and one price tier the result is affine in the four
token counts, so the first event of each (price, tier) derives the coefficients from a few reference
calls, checks them against a direct call, and later events cost a handful of integer multiplications.
A model whose prices do not fit that shape is priced by direct calls at the event's time.
"""

from __future__ import annotations

import fnmatch
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from .compiled import compile_function
from .fields import FINER, Counts
from .price_model import (
    EARLIEST_MS,
    LATEST_MS,
    MILLION,
    PICO,
    Affine,
    Linear,
    datetime_to_ms,
    derive_affine,
    direct_parts,
    lookup,
    ms_to_datetime,
    price_period,
    prices_reasoning,
    tier_region,
    tier_starts,
    to_pico_int,
    usd_to_pico,
)

__all__ = ["MILLION", "PICO", "Counts", "Linear", "PriceOverride", "Pricer", "pico_to_usd", "to_pico_int",
           "usd_to_pico"]

_has_finer = compile_function("has_finer", ["c"], [f"return bool({' or '.join(f'c.{name}' for name in FINER) or 0})"])
"""Whether counts hold any of the finer counts (which only genai-prices prices whole)."""
_RECENT_PERIODS = 8
"""Price periods remembered per model (the current one included), for events that arrive out of time order."""

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


def pico_to_usd(pico: int) -> Decimal:
    return (Decimal(pico) / PICO).normalize() if pico else Decimal(0)


_CENTS = Decimal("0.01")


def usd_text(usd: Decimal) -> str:
    """Dollars as people read them, every digit kept and never an exponent: $1,500, $0.30, $0.000125.

    A normalized Decimal prints 1500 as "1.5E+3"; this is the text of every dollar amount in a message."""
    value = usd.normalize()
    if value == value.to_integral_value():
        value = value.quantize(Decimal(1))
    elif value.as_tuple().exponent == -1:  # type: ignore[operator]
        value = value.quantize(_CENTS)
    return f"${value:,f}"


class Pricer:
    """Turns (provider, model, timestamp, tokens) into pico-USD, or None when the model is unknown."""

    def __init__(self, overrides: list[PriceOverride] | None = None) -> None:
        self._overrides = list(overrides or [])
        self._override_cache: dict[str, PriceOverride | None] = {}
        self._lookup_cache: dict[tuple[str, str], tuple[object, object] | None] = {}
        # (provider, model) -> the plan of its current price period: (valid_from_ms, valid_until_ms, kind, ...);
        # kind 2 (genai-prices): (..., model_price, tier starts, provider_info, model_info, prices reasoning)
        self._plans: dict[tuple[str, str], tuple] = {}
        # (provider, model) -> the plans of its last few price periods, newest first
        self._recent: dict[tuple[str, str], list[tuple]] = {}
        self._starts: dict[int, tuple[int, ...]] = {}
        # (id of a genai-prices price, tier region low) -> its affine form, None if it has none
        self._affine_cache: dict[tuple[int, int], Affine | None] = {}
        # the same key -> (low, high, base, input, output, cache_read, cache_write) in integer pico-USD,
        # for affine prices with integer coefficients
        self._fast: dict[tuple[int, int], tuple[int, int, int, int, int, int, int]] = {}

    def price_pico_ms(self, provider: str, model: str, ts_ms: int, counts: Counts) -> int | None:
        """The cost at the millisecond `ts_ms` in pico-USD, or None when the model is unpriced."""
        parts = self.price_parts_ms(provider, model, ts_ms, counts)
        return None if parts is None else parts[0] + parts[1]

    def price_parts_ms(self, provider: str, model: str, ts_ms: int, counts: Counts) -> tuple[int, int] | None:
        """(input part, output part) of the cost at `ts_ms`, for the writer's hot path: no datetime per call.

        The output part is what genai-prices bills for output; the input part is the rest (input tokens, request
        fees, web searches). A call with finer counts (`fields.FINER`: 1-hour cache writes, audio and image
        tokens, web searches, ...) is priced by one genai-prices call on its whole usage, so its cost is exactly
        what `calc_price` says; a price override prices them as the tokens they are part of (1-hour writes as
        cache writes, audio and image tokens as input or output) and web searches at 0. `reasoning_tokens` (the
        part of output spent on reasoning) matters only to the few models that price it at a rate of their own
        (`price_model.prices_reasoning`); they are priced by one call on the whole usage too, every other model
        prices it as the output it is part of.

        The plan of a (provider, model) (override, unknown, or a genai-prices price) holds for a price
        period [valid_from, valid_until); an event outside it looks the plan up again. Within a price
        tier region the affine coefficients are integers for nearly every model, so a call costs a
        few multiplications.
        """
        plan = self._plans.get((provider, model))
        if plan is None or not plan[0] <= ts_ms < plan[1]:
            plan = self._plan(provider, model, ts_ms)
        kind = plan[2]
        if kind == 0:
            return None
        if kind == 1:
            return _override_parts(plan[3], counts)
        if (_has_finer(counts) or (counts.reasoning_tokens and plan[7])
                or counts.cache_read_tokens + counts.cache_write_tokens > counts.input_tokens):  # fmt: skip
            # finer counts, reasoning priced apart, or cache above input (which the affine form would price,
            # even below 0, where genai-prices refuses the usage): one genai-prices call on the whole usage
            return direct_parts(plan[5], plan[6], ms_to_datetime(ts_ms), counts)
        input_tokens = counts.input_tokens
        model_price, starts = plan[3], plan[4]
        low = 0
        for start in starts:
            if input_tokens > start:
                low = start + 1
            else:
                break
        fast = self._fast.get((id(model_price), low))
        if fast is not None and fast[0] <= input_tokens <= fast[1]:
            return (fast[2] + fast[3] * input_tokens + fast[5] * counts.cache_read_tokens
                    + fast[6] * counts.cache_write_tokens, fast[4] * counts.output_tokens)  # fmt: skip
        return self._price_slow(plan, ts_ms, counts)

    def price_pico(self, provider: str, model: str, ts: datetime, counts: Counts) -> int | None:
        """The cost at `ts` (naive means UTC), to the millisecond, as stored."""
        return self.price_pico_ms(provider, model, datetime_to_ms(ts), counts)

    def price_usd(self, provider: str, model: str, ts: datetime, counts: Counts) -> Decimal | None:
        pico = self.price_pico(provider, model, ts, counts)
        return None if pico is None else pico_to_usd(pico)

    def knows(self, provider: str, model: str) -> bool:
        """Whether anything prices this model: a price override or genai-prices (at any time alike)."""
        return self._override_for(provider, model) is not None or self._genai_model(provider, model) is not None

    def linear_ms(self, provider: str, model: str, ts_ms: int, input_tokens: int) -> Linear | None:
        """The whole pico-dollar prices with which `price_parts_ms` costs the calls like this one (its price
        period, its price tier, no finer counts): a sum of such calls' counts gives the sum of their costs.
        None when the model is unpriced or its prices there are not whole pico-dollars (price each call)."""
        plan = self._plans.get((provider, model))
        if plan is None or not plan[0] <= ts_ms < plan[1]:
            plan = self._plan(provider, model, ts_ms)
        if plan[2] == 0:
            return None
        if plan[2] == 1:
            return _override_linear(plan[3])
        starts = plan[4]
        low, _ = tier_region(starts, input_tokens)
        high = next((start for start in starts if input_tokens <= start), None)
        key = (id(plan[3]), low)
        if key not in self._fast:
            sample = Counts(input_tokens=input_tokens, output_tokens=1000, cache_read_tokens=input_tokens // 4,
                            cache_write_tokens=input_tokens // 4)  # fmt: skip
            self._price_slow(plan, ts_ms, sample)
        fast = self._fast.get(key)
        if fast is None:
            return None
        return Linear(plan[0], plan[1], low, high, *fast[2:], reasoning_apart=plan[7])

    def _plan(self, provider: str, model: str, ts_ms: int) -> tuple:
        key = (provider, model)
        recent = self._recent.get(key)
        if recent is not None:
            for plan in recent:
                if plan[0] <= ts_ms < plan[1]:
                    self._plans[key] = plan
                    return plan
        elif len(self._recent) > 100_000:  # names come from callers: keep the memory bounded
            self._recent.clear()
            self._plans.clear()
        override = self._override_for(provider, model)
        if override is not None:
            plan: tuple = (EARLIEST_MS, LATEST_MS, 1, override)
        else:
            found = self._genai_model(provider, model)
            if found is None:
                plan = (EARLIEST_MS, LATEST_MS, 0)
            else:
                provider_info, model_info = found
                valid_from, valid_until = price_period(model_info, ts_ms)
                model_price = model_info.get_prices(ms_to_datetime(ts_ms))  # type: ignore[attr-defined]
                starts = self._starts.get(id(model_price))
                if starts is None:
                    starts = self._starts[id(model_price)] = tier_starts(model_price)
                plan = (valid_from, valid_until, 2, model_price, starts, provider_info, model_info,
                        prices_reasoning(model_price))  # fmt: skip
        self._recent[key] = [plan, *(recent or ())][:_RECENT_PERIODS]
        self._plans[key] = plan
        return plan

    def _price_slow(self, plan: tuple, ts_ms: int, counts: Counts) -> tuple[int, int] | None:
        """Derive (once per price and tier region) the affine form, or price by a direct call."""
        model_price, starts, provider_info, model_info = plan[3:7]
        ts = ms_to_datetime(ts_ms)
        region = tier_region(starts, counts.input_tokens)
        key = (id(model_price), region[0])
        if key not in self._affine_cache:
            self._affine_cache[key] = derive_affine(provider_info, model_info, ts, region, counts)
        affine = self._affine_cache[key]
        if affine is None:
            return direct_parts(provider_info, model_info, ts, counts)
        if key not in self._fast:
            ints = affine.exact_ints()
            if ints is not None:
                self._fast[key] = (region[0], region[1], *ints)
        output = to_pico_int(affine.output * counts.output_tokens)
        return affine.pico(counts) - output, output

    def _override_for(self, provider: str, model: str) -> PriceOverride | None:
        ref = f"{provider}/{model}"
        if ref not in self._override_cache:
            self._override_cache[ref] = next(
                (o for o in self._overrides if fnmatch.fnmatchcase(ref.lower(), o.match.lower())), None
            )
        return self._override_cache[ref]

    def _genai_model(self, provider: str, model: str) -> tuple[object, object] | None:
        key = (provider, model)  # which model it is does not depend on the time; its prices do
        if key not in self._lookup_cache:
            self._lookup_cache[key] = lookup(PROVIDER_ALIASES.get(provider.lower(), provider.lower()), model)
        return self._lookup_cache[key]


def _override_parts(o: PriceOverride, t: Counts) -> tuple[int, int]:
    uncached = t.input_tokens - t.cache_read_tokens - t.cache_write_tokens
    read = o.input if o.cache_read is None else o.cache_read
    write = o.input if o.cache_write is None else o.cache_write
    input_millions = uncached * o.input + t.cache_read_tokens * read + t.cache_write_tokens * write
    return to_pico_int(input_millions * PICO / MILLION), to_pico_int(t.output_tokens * o.output * PICO / MILLION)


def _override_linear(o: PriceOverride) -> Linear | None:
    """An override's prices per token in pico-dollars, when they are whole (at most six decimals per million)."""
    per_token = [p * PICO / MILLION for p in (o.input, o.output, o.cache_read if o.cache_read is not None else o.input,
                                               o.cache_write if o.cache_write is not None else o.input)]
    if any(p != p.to_integral_value() for p in per_token):
        return None
    inp, out, read, write = (int(p) for p in per_token)
    return Linear(EARLIEST_MS, LATEST_MS, 0, None, 0, inp, out, read - inp, write - inp)
