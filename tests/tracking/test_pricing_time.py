"""Prices that change with the time of day or the date apply at the event's exact millisecond.

DeepSeek's `deepseek-chat` costs half as much off-peak, from 16:30 to 00:30 UTC (in genai-prices, its
full price has a `TimeOfDateConstraint` from 00:30 to 16:30); calls on either side of an edge are
charged differently, through `Tracker.record()` and through the real OpenAI SDK hook (the event time
coming from the tracker's clock).
Expected costs come from genai-prices' `calc_price` at the same timestamp, rounded to the pico-dollar
half to even as the store documents.
"""

from __future__ import annotations

import random
import sqlite3
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_EVEN
from pathlib import Path
from types import SimpleNamespace

import openai
import pytest
from genai_prices import Usage as GenaiUsage
from genai_prices import calc_price, data_snapshot
from genai_prices.types import ConditionalPrice, ModelInfo, ModelPrice, StartDateConstraint, TimeOfDateConstraint

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.hooks.openai import instrument_openai
from matrix_usage_bot.tracking.price_model import EARLIEST_MS, LATEST_MS, price_period
from tests.fakes.providers import FakeProviders, Usage

DAY = date(2025, 6, 10)
TOKENS = (12_000, 3_000, 4_000, 0)  # input (cache reads included), output, cache read, cache write
MESSAGES = [{"role": "user", "content": "Say hello"}]
DAY_MS = 86_400_000


def at(hour: int, minute: int, second: int = 0, ms: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, ms * 1000, tzinfo=UTC)


def ms_of(ts: datetime) -> int:
    return (ts - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


# out of time order on purpose: the writer sees events as they come
TIMES = [at(16, 31), at(0, 29), at(16, 29), at(0, 31), at(0, 45), at(0, 29, 59, 999), at(0, 30), at(16, 30),
         at(16, 29, 59, 999), at(23, 59, 59, 999), at(0, 0, day=DAY + timedelta(days=1))]  # fmt: skip


def genai_pico(model: str, ts: datetime, tokens: tuple[int, int, int, int] = TOKENS, provider: str = "deepseek") -> int:
    inp, out, read, write = tokens
    usage = GenaiUsage(input_tokens=inp, output_tokens=out, cache_read_tokens=read, cache_write_tokens=write)
    total = calc_price(usage, model, provider_id=provider, genai_request_timestamp=ts).total_price
    return int((total * 10**12).to_integral_value(rounding=ROUND_HALF_EVEN))


def stored(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT ts_ms, provider, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,"
            " cost_pusd FROM events ORDER BY ts_ms"
        ).fetchall()


def expected_rows(model: str = "deepseek-chat") -> list[tuple]:
    return sorted((ms_of(ts), "deepseek", model, *TOKENS, genai_pico(model, ts)) for ts in TIMES)


def test_the_edges_matter():
    """Off-peak is half price here: a test that passed with hour-start prices would prove nothing."""
    assert genai_pico("deepseek-chat", at(0, 29)) * 2 == genai_pico("deepseek-chat", at(0, 31))
    assert genai_pico("deepseek-chat", at(0, 29, 59, 999)) != genai_pico("deepseek-chat", at(0, 30))
    assert genai_pico("deepseek-chat", at(16, 29, 59, 999)) != genai_pico("deepseek-chat", at(16, 30))
    assert genai_pico("deepseek-chat", at(0, 45)) != genai_pico("deepseek-chat", at(0, 0))


@pytest.mark.parametrize("model", ["deepseek-chat", "deepseek-reasoner"])
async def test_record_prices_at_the_events_exact_time(tmp_path: Path, model: str):
    db = tmp_path / "usage.db"
    async with tracking.Tracker(f"sqlite:///{db}", flush_interval=0.01) as tracker:
        for ts in TIMES:
            inp, out, read, write = TOKENS
            tracker.record(provider="deepseek", model=model, input_tokens=inp, output_tokens=out,
                           cache_read_tokens=read, cache_write_tokens=write, ts=ts)  # fmt: skip
        await tracker.flush()
    assert stored(db) == expected_rows(model)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProviders]:
    with FakeProviders(usage=Usage(input=TOKENS[0], output=TOKENS[1], cache_read=TOKENS[2], cache_write=0,
                                   reasoning=0)) as fake:  # fmt: skip
        yield fake


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_openai_hook_prices_at_the_clocks_exact_time(server: FakeProviders, tmp_path: Path, is_async: bool,
                                                            stream: bool):  # fmt: skip
    db = tmp_path / "usage.db"
    clock = Clock(TIMES[0])
    async with tracking.Tracker(f"sqlite:///{db}", clock=clock, flush_interval=0.01) as tracker:
        cls = openai.AsyncOpenAI if is_async else openai.OpenAI
        # The stand-in listens on 127.0.0.1, which names no provider: say which one it stands in for.
        client = instrument_openai(cls(base_url=server.url + "/v1", api_key="k", max_retries=0), tracker,
                                   provider="deepseek")  # fmt: skip
        for ts in TIMES:
            clock.now = ts
            result = client.chat.completions.create(model="deepseek-chat", messages=MESSAGES, stream=stream)
            result = await result if is_async else result
            if stream:
                _ = [chunk async for chunk in result] if is_async else list(result)
        await tracker.flush()
    assert stored(db) == expected_rows()


# price periods


def deepseek(model: str) -> object:
    _, info = data_snapshot.get_snapshot().find_provider_model(model, None, "deepseek", None)
    return info


def test_price_period_of_a_time_of_day_window():
    info = deepseek("deepseek-chat")
    assert price_period(info, ms_of(at(0, 45))) == (ms_of(at(0, 30)), ms_of(at(16, 30)))
    assert price_period(info, ms_of(at(0, 30))) == (ms_of(at(0, 30)), ms_of(at(16, 30)))
    assert price_period(info, ms_of(at(0, 29, 59, 999))) == (ms_of(at(16, 30, day=DAY - timedelta(days=1))),
                                                             ms_of(at(0, 30)))  # fmt: skip
    assert price_period(info, ms_of(at(20, 0))) == (ms_of(at(16, 30)), ms_of(at(0, 30, day=DAY + timedelta(days=1))))


def test_price_period_with_start_dates_and_windows():
    info = deepseek("deepseek-v4-flash")  # start dates 2026-08-17 and 2026-09-10, windows 01-04 and 06-10 UTC
    assert price_period(info, ms_of(at(23, 0, day=date(2026, 8, 16)))) == (
        ms_of(at(10, 0, day=date(2026, 8, 16))), ms_of(at(0, 0, day=date(2026, 8, 17))))  # fmt: skip
    assert price_period(info, ms_of(at(0, 0, day=date(2026, 8, 17)))) == (
        ms_of(at(0, 0, day=date(2026, 8, 17))), ms_of(at(1, 0, day=date(2026, 8, 17))))  # fmt: skip


def test_price_period_of_fixed_prices_and_of_unknown_constraints():
    _, gpt = data_snapshot.get_snapshot().find_provider_model("gpt-4o", None, "openai", None)
    assert price_period(gpt, 1_750_000_000_000) == (EARLIEST_MS, LATEST_MS)
    odd = SimpleNamespace(prices=[SimpleNamespace(constraint=None), SimpleNamespace(constraint=object())])
    assert price_period(odd, 1_750_000_000_000) == (1_750_000_000_000, 1_750_000_000_001)  # one millisecond


def test_get_prices_is_constant_over_every_price_period():
    """For synthetic models (non-UTC and sub-millisecond window edges, start dates, overlaps) and the
    real conditional ones: genai-prices gives the same prices all over the period (its first and last
    millisecond, and instants drawn within two days of the event) as at the event."""
    cest = timezone(timedelta(hours=2))
    price = lambda n: ModelPrice(input_mtok=n, output_mtok=n)  # noqa: E731
    synthetic = [
        [ConditionalPrice(prices=price(1)),
         ConditionalPrice(constraint=TimeOfDateConstraint(time(2, 30, tzinfo=cest), time(3, 0, 0, 500)),
                          prices=price(2)),
         ConditionalPrice(constraint=StartDateConstraint(date(2025, 3, 1)), prices=price(3)),
         ConditionalPrice(constraint=TimeOfDateConstraint(time(22, 0), time(1, 15, 30, 250_001)), prices=price(4))],
    ]  # fmt: skip
    models = [ModelInfo(id=f"synthetic-{i}", match=None, prices=p) for i, p in enumerate(synthetic)]  # type: ignore[arg-type]
    for provider in data_snapshot.get_snapshot().providers:
        models += [m for m in provider.models if isinstance(m.prices, list)]
    rng = random.Random(7)
    start, end = ms_of(at(0, 0, day=date(2024, 1, 1))), ms_of(at(0, 0, day=date(2027, 1, 1)))
    when = lambda ms: datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=ms % 1000 * 1000)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3000):
            model = rng.choice(models)
            ms = rng.randrange(start, end)
            valid_from, valid_until = price_period(model, ms)
            assert valid_from <= ms < valid_until
            here = model.get_prices(when(ms))
            low, high = max(valid_from, ms - 2 * DAY_MS), min(valid_until, ms + 2 * DAY_MS)
            inside = [valid_from, valid_until - 1, *(rng.randrange(low, high) for _ in range(10))]
            for instant in inside:
                if start - 10**11 < instant < end + 10**11:
                    assert model.get_prices(when(instant)) is here, (model.id, ms, instant)
