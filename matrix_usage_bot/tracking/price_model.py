"""What `genai-prices` says about one model, in the shapes the Pricer caches.

- `price_period`: the span of time around an instant over which `ModelInfo.get_prices` cannot change,
  read from the model's `ConditionalPrice` constraints (time-of-day windows, start dates), so the
  writer can reuse one lookup for every event inside it, whatever order the events come in.
- `derive_affine`: within one price period and one price tier, the cost is affine in the four token
  counts; a few reference calls give its coefficients.
- `direct_pico`, `direct_parts`: one genai-prices call, for models whose prices do not fit that shape and
  for calls whose counts do not fit the affine form (finer counts, reasoning priced apart, parts above their
  whole). A usage genai-prices refuses as inconsistent leaves the call unpriced (`price_fit.refused_usage`).
- `usage_keys`: the genai-prices `Usage` of one call, every counter of the field table by its key.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from .fields import COUNTER_TABLE, COUNTERS, USAGE_KEYS, Counts
from .price_fit import overlap, refused_usage

log = logging.getLogger("matrix_usage_bot.tracking.pricing")

PICO = 10**12
MILLION = 1_000_000
DAY_MS = 86_400_000
EARLIEST_MS = -(2**63)
"""Before every timestamp: the start of a price period that has none."""
LATEST_MS = 2**63
"""After every timestamp: the end of a price period that has none."""
_REGION_SPAN = 1_000_000
_EPOCH_DAY = date(1970, 1, 1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_pico_int(pico: Decimal) -> int:
    """The documented rounding of every stored cost: to the nearest pico-USD, ties to even."""
    return int(pico.to_integral_value(rounding=ROUND_HALF_EVEN))


def usd_to_pico(usd: Decimal) -> int:
    return to_pico_int(usd * PICO)


def ms_to_datetime(ts_ms: int) -> datetime:
    """The UTC instant of a millisecond timestamp, exactly (no float rounding)."""
    return datetime.fromtimestamp(ts_ms // 1000, UTC).replace(microsecond=ts_ms % 1000 * 1000)


def datetime_to_ms(ts: datetime) -> int:
    """Milliseconds since 1970 (floored) of a datetime; naive means UTC, as in genai-prices and UsageEvent."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return (ts - _EPOCH) // timedelta(milliseconds=1)


# price periods


def price_period(model_info: object, ts_ms: int) -> tuple[int, int]:
    """[valid_from, valid_until) in ms around ts_ms in which no constraint of the model's prices flips.

    `get_prices` picks the last `ConditionalPrice` whose constraint is active, so its answer can only
    change at an instant where some constraint's activity changes: a time-of-day window's start or
    end (every day, in UTC as genai-prices compares them) or a start date's UTC midnight. A
    constraint of a kind this code does not know gives a period of one millisecond (correct, slow).
    """
    from genai_prices.types import StartDateConstraint, TimeOfDateConstraint

    prices = getattr(model_info, "prices", None)
    start, end = EARLIEST_MS, LATEST_MS
    if not isinstance(prices, list):
        return start, end
    day = ts_ms - ts_ms % DAY_MS
    for conditional in prices:
        constraint = conditional.constraint
        if constraint is None:
            continue
        if isinstance(constraint, StartDateConstraint):
            edges: tuple[int, ...] = ((constraint.start_date - _EPOCH_DAY).days * DAY_MS,)
        elif isinstance(constraint, TimeOfDateConstraint):
            offsets = (utc_ms_of_day(constraint.start_time), utc_ms_of_day(constraint.end_time))
            edges = tuple(day + offset + shift for offset in offsets for shift in (-DAY_MS, 0, DAY_MS))
        else:
            return ts_ms, ts_ms + 1
        for edge in edges:
            if edge <= ts_ms:
                start = max(start, edge)
            else:
                end = min(end, edge)
    return start, end


def utc_ms_of_day(value: time) -> int:
    """The first millisecond of the day at or after `value` in UTC (naive is UTC, as genai-prices reads it)."""
    if value.tzinfo is not None:
        value = datetime.combine(_EPOCH_DAY, value).astimezone(UTC).time()
    micros = ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond
    return -(-micros // 1000)


# genai-prices lookups and calls


def lookup(provider_id: str, model: str) -> tuple[object, object] | None:
    from genai_prices import data_snapshot

    try:
        return data_snapshot.get_snapshot().find_provider_model(model, None, provider_id, None)
    except LookupError:
        return None


_CACHED = {name: name.removeprefix("cache_").removesuffix("_tokens") for name in COUNTERS if name.startswith("cache_")}
"""The cache counters by the word genai-prices' per-modality cache keys use: cache_audio_{read}_tokens, ..."""
_INPUT_MODALITIES, _OUTPUT_MODALITIES = (
    {c.name: c.name.split("_")[1] for c in COUNTER_TABLE if c.kind == "modality" and c.part_of == whole}
    for whole in ("input_tokens", "output_tokens"))  # fmt: skip
"""The parts of input and of output that are one modality (audio, image), by that modality's word."""
_ALWAYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def usage_keys(counts: Counts) -> dict[str, int]:
    """The genai-prices `Usage` of one call: each counter under its key (`fields.USAGE_KEYS`).

    Where two of its parts overlap in a way genai-prices cannot split by itself (cache reads and audio input:
    how much of the cache was audio? reasoning and audio output), a model that prices the overlap apart
    (Gemini's cached audio) needs it stated, or `calc_price` raises. The store keeps neither split: the
    overlap is stated where the counts fix it (`overlap`), else as 0: cache reads and writes priced as text,
    reasoning as text output, and a call whose counts force an overlap they do not fix left unpriced.
    """
    usage = {USAGE_KEYS[name]: value for name, value in zip(COUNTERS, counts, strict=True) if value or name in _ALWAYS}
    for name, modality in _INPUT_MODALITIES.items():
        if usage.get(name):
            usage.update((f"cache_{modality}_{kind}_tokens", overlap(usage[name], usage[cached], counts.input_tokens))
                         for cached, kind in _CACHED.items() if usage.get(cached))  # fmt: skip
    if counts.reasoning_tokens:
        usage.update((f"output_{modality}_reasoning_tokens", 0) for name, modality in _OUTPUT_MODALITIES.items()
                     if usage.get(name))  # fmt: skip
    return usage


def _calc(provider_info: object, model_info: object, ts: datetime, counts: Counts) -> object:
    from genai_prices import Usage

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        usage = Usage(**usage_keys(counts))
        return model_info.calc_price(usage, provider_info, genai_request_timestamp=ts)  # type: ignore[attr-defined]


def prices_reasoning(model_price: object) -> bool:
    """Whether a genai-prices price bills reasoning tokens at a rate of their own (`output_reasoning_mtok`, ...)."""
    return any(value is not None and "reasoning" in key for key, value in vars(model_price).items())


def direct_pico(provider_info: object, model_info: object, ts: datetime, counts: Counts) -> int:
    return usd_to_pico(_calc(provider_info, model_info, ts, counts).total_price)  # type: ignore[attr-defined]


def direct_parts(provider_info: object, model_info: object, ts: datetime, counts: Counts) -> tuple[int, int] | None:
    """(input part, output part) in pico-USD of one genai-prices call; the parts add up to its total. None
    (unpriced) when genai-prices refuses the usage as inconsistent (`refused_usage`)."""
    try:
        calc = _calc(provider_info, model_info, ts, counts)
    except ValueError as exc:
        if refused_usage(exc, provider_info, model_info):
            return None
        raise
    total, output = usd_to_pico(calc.total_price), usd_to_pico(calc.output_price)  # type: ignore[attr-defined]
    return total - output, output


def tier_starts(model_price: object) -> tuple[int, ...]:
    from genai_prices.types import TieredPrices

    return tuple(
        sorted({tier.start for v in vars(model_price).values() if isinstance(v, TieredPrices) for tier in v.tiers})
    )


def tier_region(starts: tuple[int, ...], input_tokens: int) -> tuple[int, int]:
    """The [low, high] input-token range in which no price tier changes, containing input_tokens.

    genai-prices applies a tier when the input tokens exceed its start, to all tokens.
    """
    low, high = 0, None
    for start in starts:
        if input_tokens > start:
            low = start + 1
        else:
            high = start
            break
    return low, (low + _REGION_SPAN if high is None else high)


# affine prices


@dataclass(frozen=True, slots=True)
class Affine:
    """cost_pico = base + input*a + output*b + cache_read*r + cache_write*w (pico-USD)."""

    base: Decimal
    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal

    def pico(self, t: Counts) -> int:
        cost = (
            self.base
            + self.input * t.input_tokens
            + self.output * t.output_tokens
            + self.cache_read * t.cache_read_tokens
            + self.cache_write * t.cache_write_tokens
        )
        return to_pico_int(cost)

    def exact_ints(self) -> tuple[int, int, int, int, int] | None:
        """The coefficients as integers when they all are (prices in whole micro-dollars per million
        tokens, i.e. nearly every price): then integer arithmetic gives the same result, faster."""
        values = (self.base, self.input, self.output, self.cache_read, self.cache_write)
        if all(v == v.to_integral_value() for v in values):
            return tuple(int(v) for v in values)  # type: ignore[return-value]
        return None


@dataclass(frozen=True, slots=True)
class Linear:
    """Whole pico-dollar prices that cost, exactly and without rounding, every call of one model made in
    [valid_from_ms, valid_until_ms) with input tokens in [low, high] (`high` None: no bound) and no finer
    counts: per_call + input * i + output * o + cache_read * r + cache_write * w. Calls with reasoning need
    pricing one by one where `reasoning_apart` (the model prices reasoning at a rate of its own)."""

    valid_from_ms: int
    valid_until_ms: int
    low: int
    high: int | None
    per_call: int
    input: int
    output: int
    cache_read: int
    cache_write: int
    reasoning_apart: bool = False

    def pico(self, calls: int, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int) -> int:
        """The cost of `calls` calls whose counts sum to these: the sum of their own costs."""
        return (calls * self.per_call + input_tokens * self.input + output_tokens * self.output
                + cache_read * self.cache_read + cache_write * self.cache_write)  # fmt: skip

    def holds(self, start_ms: int, end_ms: int, low: int, high: int | None) -> bool:
        """Whether these prices cost every call in [start_ms, end_ms) with input in [low, high]."""
        within = self.high is None or (high is not None and high <= self.high)
        return self.valid_from_ms <= start_ms and end_ms <= self.valid_until_ms and self.low <= low and within


def derive_affine(
    provider_info: object, model_info: object, ts: datetime, region: tuple[int, int], sample: Counts
) -> Affine | None:
    """The affine form of the model's price at `ts` within the tier region, checked against `sample`."""
    low, high = region
    if high <= low:
        return None
    f = lambda t: Decimal(direct_pico(provider_info, model_info, ts, t))  # noqa: E731
    at_low, at_high = f(Counts(input_tokens=low)), f(Counts(input_tokens=high))
    per_input = (at_high - at_low) / (high - low)
    affine = Affine(
        base=at_low - per_input * low,
        input=per_input,
        output=(f(Counts(input_tokens=low, output_tokens=MILLION)) - at_low) / MILLION,
        cache_read=(f(Counts(input_tokens=high, cache_read_tokens=high)) - at_high) / high,
        cache_write=(f(Counts(input_tokens=high, cache_write_tokens=high)) - at_high) / high,
    )
    if affine.pico(sample) != direct_pico(provider_info, model_info, ts, sample):
        log.info("prices of %s are not affine in tokens; pricing it call by call", getattr(model_info, "id", "?"))
        return None
    return affine
