"""Random calls, many models, timestamps all over 2024-2026: every entry point stores genai-prices' cost.

A seeded random loop (hypothesis is not installed here). Timestamps cluster near the instants where
prices may change (time-of-day window edges such as DeepSeek's 00:30 and 16:30 UTC, UTC midnights,
the models' own start dates) and arrive in random order, as the writer sees them. The expected cost
of each case is genai-prices' `calc_price` at the case's exact millisecond, rounded to the pico-dollar
half to even (the rounding `tracking.pricing` documents), computed here without our pricing code.
"""

from __future__ import annotations

import json
import random
import sqlite3
import warnings
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN
from functools import cache
from pathlib import Path
from typing import NamedTuple

from genai_prices import Usage, calc_price, data_snapshot
from genai_prices.types import StartDateConstraint, TimeOfDateConstraint

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.fields import Counts
from matrix_usage_bot.tracking.ingest import ingest_lines
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.store import open_store

PROVIDERS = ("openai", "anthropic", "google", "deepseek", "mistral", "groq", "aws", "x-ai")
MORE = ("openrouter", "fireworks", "together")  # only their models whose prices change over time
CASES = 4000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
START, END = datetime(2024, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
TIERS = (128_000, 128_001, 200_000, 200_001, 272_000, 272_001, 1_000_000)


class Case(NamedTuple):
    provider: str
    model: str
    ts: datetime
    tokens: tuple[int, int, int, int]  # input (cache included), output, cache read, cache write
    pico: int

    @property
    def ms(self) -> int:
        return (self.ts - EPOCH) // timedelta(milliseconds=1)


def counts(tokens: tuple[int, int, int, int]) -> Counts:
    inp, out, read, write = tokens
    return Counts(input_tokens=inp, output_tokens=out, cache_read_tokens=read, cache_write_tokens=write)


def genai_pico(provider: str, model: str, ts: datetime, tokens: tuple[int, int, int, int]) -> int:
    inp, out, read, write = tokens
    usage = Usage(input_tokens=inp, output_tokens=out, cache_read_tokens=read, cache_write_tokens=write)
    total = calc_price(usage, model, provider_id=provider, genai_request_timestamp=ts).total_price
    return int((total * 10**12).to_integral_value(rounding=ROUND_HALF_EVEN))


def moments(model: object) -> list[datetime]:
    """Instants where this model's prices may change, read from its genai-prices data (days left out)."""
    found: list[datetime] = []
    for conditional in model.prices if isinstance(model.prices, list) else ():  # type: ignore[attr-defined]
        constraint = conditional.constraint
        if isinstance(constraint, StartDateConstraint):
            found.append(datetime.combine(constraint.start_date, time(), UTC))
        elif isinstance(constraint, TimeOfDateConstraint):
            found += [datetime.combine(date(1970, 1, 1), t, t.tzinfo or UTC)
                      for t in (constraint.start_time, constraint.end_time)]  # fmt: skip
    return found


def random_ts(rng: random.Random, model: object) -> datetime:
    day = START + timedelta(days=rng.randrange((END - START).days))
    kind = rng.random()
    if kind < 0.3:
        return day + timedelta(milliseconds=rng.randrange(86_400_000))
    edges = moments(model) or [datetime.combine(date(1970, 1, 1), time(0, 30), UTC)]
    edges += [datetime.combine(date(1970, 1, 1), time(0), UTC)]
    edge = rng.choice(edges)
    if edge.year == 1970:  # a time of day: on a random day
        edge = day + (edge.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)) % timedelta(days=1)
    jitter = rng.choice([0, 0, -1, 1, -999, 1000, -60_000, 60_000, rng.randint(-3 * 3_600_000, 3 * 3_600_000)])
    return min(max(edge + timedelta(milliseconds=jitter), START), END - timedelta(milliseconds=1))


def random_tokens(rng: random.Random) -> tuple[int, int, int, int]:
    inp = rng.choice([0, 1, rng.randint(1, 5_000), rng.randint(1, 300_000), rng.choice(TIERS),
                      rng.randint(0, 2_000_000)])  # fmt: skip
    read = rng.randint(0, inp) if rng.random() < 0.6 else 0
    write = rng.randint(0, inp - read) if rng.random() < 0.4 else 0
    return inp, rng.choice([0, rng.randint(0, 2_000), rng.randint(0, 100_000)]), read, write


@cache
def cases() -> tuple[Case, ...]:
    snapshot = data_snapshot.get_snapshot()
    models = [(p.id, m) for p in snapshot.providers if p.id in PROVIDERS for m in p.models]
    changing: dict[str, list] = {}  # provider -> its models whose prices change over time
    for p in snapshot.providers:
        if p.id in PROVIDERS + MORE:
            changing[p.id] = [(p.id, m) for m in p.models if isinstance(m.prices, list)]
    rng = random.Random(20261124)
    found: list[Case] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while len(found) < CASES:
            pick = rng.random()
            pool = models if pick < 0.4 else changing["deepseek" if pick < 0.6 else rng.choice(MORE + PROVIDERS)]
            if not pool:
                continue
            provider, model = rng.choice(pool)
            ts, tokens = random_ts(rng, model), random_tokens(rng)
            try:
                pico = genai_pico(provider, model.id, ts, tokens)
            except (LookupError, ValueError):  # priced in other units only, or not found under this id
                continue
            found.append(Case(provider, model.id, ts, tokens, pico))
    return tuple(found)


def test_the_cases_cover_the_edges():
    got = cases()
    assert len({c.model for c in got}) > 300 and {c.provider for c in got} >= set(PROVIDERS)
    assert len({c.model for c in got if c.provider not in PROVIDERS}) > 50
    near_deepseek_edge = [c for c in got if c.model == "deepseek-chat" and c.ts.minute in (29, 30)]
    assert len(near_deepseek_edge) > 20
    assert sum(c.ts.hour == 0 and c.ts.minute == 0 for c in got) > 100


def test_price_pico_ms_equals_genai_prices_in_any_order():
    pricer = Pricer()
    for sweep in (cases(), tuple(reversed(cases()))):  # the second sweep with every cache warm
        for c in sweep:
            assert pricer.price_pico_ms(c.provider, c.model, c.ms, counts(c.tokens)) == c.pico, c


def test_price_pico_with_a_datetime_equals_genai_prices():
    pricer = Pricer()
    for c in cases()[:1000]:
        assert pricer.price_pico(c.provider, c.model, c.ts, counts(c.tokens)) == c.pico, c


def stored(db: Path) -> dict[str, tuple[int, int | None]]:
    with sqlite3.connect(db) as conn:
        return {event_id: (ts_ms, cost) for event_id, ts_ms, cost in
                conn.execute("SELECT event_id, ts_ms, cost_pusd FROM events")}  # fmt: skip


def expected() -> dict[str, tuple[int, int]]:
    return {f"case-{i}": (c.ms, c.pico) for i, c in enumerate(cases())}


async def test_record_and_flush_store_genai_prices_cost(tmp_path: Path):
    db = tmp_path / "usage.db"
    async with tracking.Tracker(f"sqlite:///{db}", flush_interval=0.01) as tracker:
        for i, c in enumerate(cases()):
            inp, out, read, write = c.tokens
            tracker.record(provider=c.provider, model=c.model, input_tokens=inp, output_tokens=out,
                           cache_read_tokens=read, cache_write_tokens=write, ts=c.ts, event_id=f"case-{i}")  # fmt: skip
        await tracker.flush()
    assert stored(db) == expected()


async def test_ingest_stores_genai_prices_cost(tmp_path: Path):
    db = tmp_path / "usage.db"
    lines = [
        json.dumps({"event_id": f"case-{i}", "ts": c.ts.isoformat(timespec="milliseconds"), "provider": c.provider,
                    "model": c.model, "input_tokens": c.tokens[0], "output_tokens": c.tokens[1],
                    "cache_read_tokens": c.tokens[2], "cache_write_tokens": c.tokens[3]})
        for i, c in enumerate(cases())
    ]  # fmt: skip
    store = await open_store(f"sqlite:///{db}")
    try:
        result = await ingest_lines(store, lines, Pricer(), batch_size=500)
    finally:
        await store.close()
    assert (result.stored, result.errors) == (CASES, [])
    assert stored(db) == expected()
