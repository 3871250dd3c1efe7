"""Reading back what the hooks stored, and the exact costs genai-prices gives."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.periods import parse_period
from matrix_usage_bot.tracking.pricing import pico_to_usd
from matrix_usage_bot.tracking.queries import usage_report
from matrix_usage_bot.tracking.store import EVENT_COLUMNS, Filters


async def stored(tracker: tracking.Tracker) -> list[dict[str, Any]]:
    """Every stored event as a dict, oldest first, after a flush."""
    await tracker.flush()
    store = await tracker.store()
    rows = [dict(zip(EVENT_COLUMNS, row, strict=True)) async for row in store.iter_events(0, 2**62, Filters())]
    return sorted(rows, key=lambda r: (r["ts_ms"], r["event_id"]))


def rejected(db: Path) -> list[tuple[str, str]]:
    """(reason, the record as JSON) of every event the writer refused, from the store's rejected_events."""
    with sqlite3.connect(db) as conn:
        return [tuple(row) for row in conn.execute("SELECT reason, payload FROM rejected_events ORDER BY id")]


def expected_cost(provider: str, model: str, inp: int, out: int, read: int = 0, write: int = 0,
                  ts_ms: int | None = None, **finer: int) -> Decimal:  # fmt: skip
    """genai-prices' own price for this usage (`finer`: more of its Usage keys), at the event's timestamp when given."""
    from genai_prices import Usage, calc_price

    usage = Usage(input_tokens=inp, output_tokens=out, cache_read_tokens=read, cache_write_tokens=write,
                  **{key: value for key, value in finer.items() if value})  # fmt: skip
    when = datetime.fromtimestamp(ts_ms / 1000, UTC) if ts_ms is not None else None
    return calc_price(usage, model, provider_id=provider, genai_request_timestamp=when).total_price


def assert_event(row: dict[str, Any], provider: str, model: str, inp: int, out: int, read: int, write: int,
                 reasoning: int, write_1h: int = 0) -> None:  # fmt: skip
    """Exact tokens and the exact genai-prices cost at the event's own timestamp."""
    got = (row["provider"], row["model"], row["input_tokens"], row["output_tokens"], row["cache_read_tokens"],
           row["cache_write_tokens"], row["reasoning_tokens"], row["cache_write_1h_tokens"])  # fmt: skip
    assert got == (provider, model, inp, out, read, write, reasoning, write_1h)
    assert row["cost_pusd"] is not None
    assert pico_to_usd(row["cost_pusd"]) == expected_cost(provider, model, inp, out, read, write, row["ts_ms"],
                                                          cache_write_1h_tokens=write_1h)  # fmt: skip


def o200k(text: str) -> int:
    """The count of tiktoken's o200k_base, loaded from the copy LiteLLM ships (no network here)."""
    import litellm
    import tiktoken

    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(Path(litellm.__file__).parent / "litellm_core_utils/tokenizers"))
    return len(tiktoken.get_encoding("o200k_base").encode(text))


def prompt_json(*fields: Any) -> str:
    """A request's prompt fields as `tracking.estimate` documents counting them: their JSON, in order."""
    return json.dumps(list(fields), ensure_ascii=False)


async def assert_estimated(tracker: tracking.Tracker, row: dict[str, Any], provider: str, model: str,
                           prompt: str, text: str) -> None:  # fmt: skip
    """The one call stored, estimated: o200k_base counts of the prompt and the reply text, priced by
    genai-prices for those counts, and counted apart in the report."""
    inp, out = o200k(prompt) if prompt else 0, o200k(text)
    assert (row["usage_source"], row["status"], row["provider"], row["model"]) == ("estimated", "ok", provider, model)
    assert (row["input_tokens"], row["output_tokens"]) == (inp, out) and out > 0
    assert row["cost_pusd"] is not None
    want = expected_cost(provider, model, inp, out, ts_ms=row["ts_ms"])
    assert abs(pico_to_usd(row["cost_pusd"]) - want) <= Decimal("1e-9")
    report = await usage_report(await tracker.store(), parse_period("all", ZoneInfo("UTC")))
    assert (report.totals.calls, report.totals.estimated_calls) == (1, 1)


def provider_cost(provider: str, model: str, body: dict[str, Any], ts_ms: int, api_flavor: str = "default",
                  **extra: int) -> Decimal:  # fmt: skip
    """What genai-prices makes of the reply body the provider sent (its own extractor for `provider` and
    `api_flavor`), priced at the event's timestamp: independent of every conversion of ours. `extra`: Usage keys
    outside the body's usage (Gemini's grounded prompts, counted from its groundingMetadata)."""
    from genai_prices import calc_price, extract_usage

    usage = extract_usage(body, provider_id=provider, api_flavor=api_flavor).usage
    for key, value in extra.items():
        setattr(usage, key, value)
    when = datetime.fromtimestamp(ts_ms / 1000, UTC)
    return calc_price(usage, model, provider_id=provider, genai_request_timestamp=when).total_price


def png(width: int, height: int) -> bytes:
    """A real PNG of that size (noise, 1 bit a pixel, so its base64 is as long as a photo's would be)."""
    import random
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    noise = random.Random(f"{width}x{height}")
    rows = b"".join(b"\x00" + noise.randbytes(-(-width // 8)) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def data_url(image: bytes) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(image).decode()
