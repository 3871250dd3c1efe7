"""Random usage with everything genai-prices prices apart (1-hour cache writes, audio and image tokens, web
searches) on the models that price them, at random times: `record()`, `ingest` and passive MindRoom
collection all store `calc_price`'s cost on the same inputs, with its output part apart.

The expected figures are genai-prices' own, computed here without our pricing code, rounded to the
pico-dollar half to even as `tracking.pricing` documents.
"""

from __future__ import annotations

import json
import random
import sqlite3
import warnings
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from pathlib import Path
from typing import NamedTuple

from genai_prices import Usage, calc_price, data_snapshot

from matrix_usage_bot import tracking
from matrix_usage_bot.bot.features.passive_collection import PassiveCollector
from matrix_usage_bot.tracking.ingest import ingest_lines
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.settings import TrackingSettings
from matrix_usage_bot.tracking.store import open_store

FINER = ("cache_write_1h_tokens", "input_audio_tokens", "output_audio_tokens", "input_image_tokens",
         "output_image_tokens", "web_searches")  # fmt: skip
PRICE_KEYS = {"cache_write_1h_tokens": "cache_write_1h_mtok", "input_audio_tokens": "input_audio_mtok",
              "output_audio_tokens": "output_audio_mtok", "input_image_tokens": "input_image_mtok",
              "output_image_tokens": "output_image_mtok", "web_searches": "web_searches_kcount"}  # fmt: skip
CASES = 600
START = datetime(2025, 6, 1, tzinfo=UTC)


class Case(NamedTuple):
    provider: str
    model: str
    ts: datetime
    counts: dict[str, int]
    pico: int
    output_pico: int


def pico(usd: Decimal) -> int:
    return int((usd * 10**12).to_integral_value(rounding=ROUND_HALF_EVEN))


def priced_keys(model: object) -> set[str]:
    prices = model.prices if isinstance(model.prices, list) else [model.prices]  # type: ignore[attr-defined]
    found: set[str] = set()
    for conditional in prices:
        values = vars(getattr(conditional, "prices", conditional))
        found |= {key for key, price_key in PRICE_KEYS.items() if values.get(price_key) is not None}
    return found


def random_counts(rng: random.Random, keys: set[str]) -> dict[str, int]:
    inp, out = rng.randint(0, 200_000), rng.randint(0, 20_000)
    counts = {"input_tokens": inp, "output_tokens": out, "cache_read_tokens": 0, "cache_write_tokens": 0}
    if "cache_write_1h_tokens" in keys:
        counts["cache_read_tokens"] = read = rng.randint(0, inp // 3)
        counts["cache_write_tokens"] = write = rng.randint(0, inp - read)
        counts["cache_write_1h_tokens"] = rng.randint(0, write)
    for side, whole in (("input", inp), ("output", out)):
        audio = rng.randint(0, whole) if f"{side}_audio_tokens" in keys else 0
        if audio:
            counts[f"{side}_audio_tokens"] = audio
        if f"{side}_image_tokens" in keys:
            counts[f"{side}_image_tokens"] = rng.randint(0, whole - audio)
    if "web_searches" in keys:
        counts["web_searches"] = rng.randint(0, 12)
    return counts


ENOUGH = 25
"""Cases each kind needs at least: they are drawn until every kind has as many, whichever models a release holds."""


def _pool(providers: tuple[str, ...], wanted: set[str] | None = None) -> list[tuple[str, object, set[str]]]:
    snapshot = data_snapshot.get_snapshot()
    return [(p.id, m, keys) for p in snapshot.providers if p.id in providers
            for m in p.models if (keys := priced_keys(m)) and (wanted is None or keys & wanted)]  # fmt: skip


def _draw(rng: random.Random, pool: list, counts_for=random_counts) -> Case | None:
    provider, model, keys = rng.choice(pool)
    ts = START + timedelta(milliseconds=rng.randrange(500 * 86_400_000))
    counts = counts_for(rng, keys)
    try:
        calc = calc_price(Usage(**{k: v for k, v in counts.items() if v}), model.id, provider_id=provider,
                          genai_request_timestamp=ts)  # fmt: skip
    except (LookupError, ValueError):
        return None
    return Case(provider, model.id, ts, counts, pico(calc.total_price), pico(calc.output_price))


@cache
def cases() -> tuple[Case, ...]:
    """At least CASES cases, drawn until each finer count and each provider has ENOUGH of them.

    The models come from the installed price data, so a data release changes which are drawn; drawing until
    every kind is covered keeps the test's strength the same whichever models a release holds.
    """
    providers = ("openai", "anthropic", "google")
    pool = _pool(providers)
    rng = random.Random(20261202)
    found: list[Case] = []

    def short() -> list[str]:
        have = {key: sum(1 for c in found if c.counts.get(key)) for key in FINER}
        have |= {p: sum(1 for c in found if c.provider == p) for p in providers}
        return [kind for kind, n in have.items() if n < ENOUGH]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(200 * CASES):
            if len(found) >= CASES and not short():
                break
            missing = short()
            wanted = [m for m in pool if m[0] in missing or m[2] & set(missing)] if len(found) >= CASES else pool
            case = _draw(rng, wanted or pool)
            if case is not None:
                found.append(case)
    assert not short(), f"the installed price data has too few models pricing {short()}"
    return tuple(found)


def _audio_counts(rng: random.Random, keys: set[str]) -> dict[str, int]:
    """What MindRoom's metrics carry for an OpenAI-family call: input and output with their audio parts."""
    counts = {"input_tokens": rng.randint(0, 200_000), "output_tokens": rng.randint(0, 20_000)}
    for side in ("input", "output"):
        if f"{side}_audio_tokens" in keys:
            counts[f"{side}_audio_tokens"] = rng.randint(1, counts[f"{side}_tokens"] or 1)
            counts[f"{side}_tokens"] = max(counts[f"{side}_tokens"], counts[f"{side}_audio_tokens"])
    return counts


@cache
def audio_cases() -> tuple[Case, ...]:
    """ENOUGH OpenAI calls with audio, on the models of the installed data that price audio."""
    pool = _pool(("openai",), {"input_audio_tokens", "output_audio_tokens"})
    rng = random.Random(20261206)
    found: list[Case] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(200 * ENOUGH):
            if len(found) >= ENOUGH:
                break
            case = _draw(rng, pool, _audio_counts)
            if case is not None and any(case.counts.get(k) for k in ("input_audio_tokens", "output_audio_tokens")):
                found.append(case)
    assert len(found) >= ENOUGH, "the installed price data has too few OpenAI models pricing audio"
    return tuple(found)


def stored(db: Path) -> dict[str, tuple[int | None, int | None]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT event_id, cost_pusd, output_cost_pusd FROM events")
        return {event_id: (cost, output) for event_id, cost, output in rows}


def expected() -> dict[str, tuple[int, int]]:
    return {f"case-{i}": (c.pico, c.output_pico) for i, c in enumerate(cases())}


def test_the_cases_cover_every_finer_count():
    for key in FINER:
        assert sum(1 for c in cases() if c.counts.get(key)) >= ENOUGH, key
    assert {c.provider for c in cases()} == {"openai", "anthropic", "google"}


async def test_record_stores_calc_price(tmp_path: Path):
    db = tmp_path / "usage.db"
    async with tracking.Tracker(f"sqlite:///{db}", flush_interval=0.01) as tracker:
        for i, c in enumerate(cases()):
            tracker.record(provider=c.provider, model=c.model, ts=c.ts, event_id=f"case-{i}", **c.counts)
        await tracker.flush()
    assert stored(db) == expected()
    with sqlite3.connect(db) as conn:
        sums = conn.execute(f"SELECT {', '.join(f'sum({k})' for k in FINER)} FROM rollup_room_daily").fetchone()
    assert sums == tuple(sum(c.counts.get(k, 0) for c in cases()) for k in FINER)


async def test_ingest_stores_calc_price(tmp_path: Path):
    db = tmp_path / "usage.db"
    lines = [json.dumps({"event_id": f"case-{i}", "ts": c.ts.isoformat(timespec="milliseconds"),
                         "provider": c.provider, "model": c.model, **c.counts}) for i, c in enumerate(cases())]
    store = await open_store(f"sqlite:///{db}")
    try:
        result = await ingest_lines(store, lines, Pricer(), batch_size=100)
    finally:
        await store.close()
    assert (result.stored, result.errors) == (len(cases()), [])
    assert stored(db) == expected()


async def test_passive_collection_stores_calc_price_of_audio(tmp_path: Path):
    """MindRoom carries Agno's metrics: OpenAI-family audio tokens are parts of input and output."""
    db = tmp_path / "usage.db"
    chosen = list(enumerate(audio_cases()))
    collector = PassiveCollector(TrackingSettings.model_validate({"storage": {"url": f"sqlite:///{db}"}}),
                                 own_server="x")  # fmt: skip
    await collector.start()
    for i, c in chosen:
        usage = {"input_tokens": c.counts["input_tokens"], "output_tokens": c.counts["output_tokens"],
                 "audio_input_tokens": c.counts.get("input_audio_tokens", 0),
                 "audio_output_tokens": c.counts.get("output_audio_tokens", 0)}  # fmt: skip
        content = {"msgtype": "m.text", "body": "done", "io.mindroom.ai_run": {
            "version": 1, "run_id": f"r{i}", "status": "completed", "usage": usage,
            "model": {"config": "m", "id": c.model, "provider": "openai"}}}  # fmt: skip
        await collector.observe("!r:x", f"case-{i}", "@mindroom_a:x", content, int(c.ts.timestamp() * 1000))
    await collector.close()
    got = stored(db)
    assert got == {f"case-{i}": (c.pico, c.output_pico) for i, c in chosen}
