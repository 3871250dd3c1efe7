"""Calls for the advice tests, and their prices computed here with genai-prices alone (none of our pricing)."""

from __future__ import annotations

import random
import warnings
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN

from genai_prices import Usage, calc_price

ROOM, OTHER_ROOM = "!advice:x", "!elsewhere:x"
AGENTS = ("scout", "writer", "")
MODELS = (("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-5"), ("deepseek", "deepseek-reasoner"),
          ("google", "gemini-2.5-pro"), ("mistral", "mistral-large-latest"), ("ollama", "qwen3:32b"))  # fmt: skip
START = datetime(2026, 9, 28, tzinfo=UTC)
END = datetime(2026, 11, 3, tzinfo=UTC)
DEEPSEEK_INSTANTS = (
    datetime(2026, 10, 14, 17, 5, 9, 250000, tzinfo=UTC),  # off-peak (16:30 to 00:30 UTC)
    datetime(2026, 10, 15, 0, 29, 59, 999000, tzinfo=UTC),  # the last millisecond off-peak
    datetime(2026, 10, 15, 0, 30, tzinfo=UTC),  # peak again
    datetime(2026, 10, 21, 16, 30, tzinfo=UTC),  # off-peak from this instant
)


def usage_of(e: dict, cache: bool = True) -> dict[str, int]:
    """genai-prices' Usage of an event, written out here (reasoning as output_reasoning_tokens)."""
    usage = {"input_tokens": e["input_tokens"], "output_tokens": e["output_tokens"]}
    if cache:
        usage["cache_read_tokens"] = e.get("cache_read_tokens", 0)
        usage["cache_write_tokens"] = e.get("cache_write_tokens", 0)
        if e.get("cache_write_1h_tokens"):
            usage["cache_write_1h_tokens"] = e["cache_write_1h_tokens"]
    for ours, theirs in (("reasoning_tokens", "output_reasoning_tokens"), ("input_audio_tokens", "input_audio_tokens"),
                         ("web_searches", "web_searches")):  # fmt: skip
        if e.get(ours):
            usage[theirs] = e[ours]
    return usage


def pico(provider: str, model: str, ts: datetime, usage: dict[str, int]) -> int | None:
    """calc_price at that instant, rounded to the pico-dollar half to even; None when it knows no price."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            price = calc_price(Usage(**usage), model, provider_id=provider, genai_request_timestamp=ts)
    except LookupError:
        return None
    return int((price.total_price * 10**12).to_integral_value(rounding=ROUND_HALF_EVEN))


def make_calls(n: int = 600, seed: int = 27) -> list[dict]:
    rng = random.Random(seed)
    calls = []
    span = (END - START).total_seconds()
    for i in range(n):
        provider, model = rng.choice(MODELS)
        ts = START + timedelta(seconds=rng.random() * span)
        if provider == "deepseek" and i % 3 == 0:
            ts = rng.choice(DEEPSEEK_INSTANTS)
        inp = rng.randint(150_000, 260_000) if i % 14 == 0 else rng.randint(0, 9_000)  # past tier starts too
        out = rng.randint(0, 3_000)
        e = dict(provider=provider, model=model, input_tokens=inp, output_tokens=out, ts=ts, event_id=f"adv{i}",
                 agent=rng.choice(AGENTS), room_id=ROOM if rng.random() < 0.85 else OTHER_ROOM)  # fmt: skip
        if provider in ("openai", "anthropic", "deepseek", "google") and rng.random() < 0.6:
            e["cache_read_tokens"] = rng.randint(0, inp // 2)
        if provider == "anthropic" and rng.random() < 0.4:
            e["cache_write_tokens"] = rng.randint(0, (inp - e.get("cache_read_tokens", 0)) // 2)
            if i % 5 == 0:
                e["cache_write_1h_tokens"] = e["cache_write_tokens"] // 2
        if model in ("deepseek-reasoner", "gemini-2.5-pro"):
            e["reasoning_tokens"] = rng.randint(0, out)
        if i % 11 == 0:
            e["web_searches"] = rng.randint(1, 3)
        if provider == "openai" and i % 13 == 0 and not e.get("cache_read_tokens"):
            e["input_audio_tokens"] = rng.randint(0, inp)
        calls.append(e)
    return calls
