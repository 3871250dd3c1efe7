"""Passive MindRoom collection converts each model family's Agno usage: Gemini's thinking counts as output,
Claude's cache counts as input; the stored cost is genai-prices' price of that usage at the event's time."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from genai_prices import Usage, calc_price

from matrix_usage_bot.tracking.pricing import pico_to_usd

from .test_mindroom_e2e import wait_stored

pytestmark = pytest.mark.synapse


def ai_run(provider: str, model_id: str, usage: dict) -> dict:
    """MindRoom's io.mindroom.ai_run for one finished run: Agno's RunMetrics as `to_dict()` gives them."""
    return {"version": 1, "run_id": f"run-{model_id}", "session_id": "s1", "status": "completed",
            "model": {"config": "default", "id": model_id, "provider": provider},
            "usage": {**usage, "duration": "3.5"}, "tools": {"count": 0}}  # fmt: skip


def rows(db: Path) -> dict[str, tuple]:
    with sqlite3.connect(db) as conn:
        found = conn.execute("SELECT model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,"
                             " reasoning_tokens, cost_pusd, ts_ms FROM events").fetchall()  # fmt: skip
    return {row[0]: row[1:] for row in found}


def price(provider: str, model: str, ts_ms: int, **tokens: int):
    when = datetime.fromtimestamp(ts_ms / 1000, UTC)
    return calc_price(Usage(**tokens), model, provider_id=provider, genai_request_timestamp=when).total_price


async def test_gemini_thinking_and_claude_cache(make_user, make_usage_bot, db_url):
    db = Path(db_url.removeprefix("sqlite:///"))
    alice, agent = await make_user("alice"), await make_user("mindroom_thinker")
    bot = await make_usage_bot(mindroom=True)
    room = await alice.room_with(bot, others=[agent])
    # Agno's Gemini metrics: output_tokens are the candidates only (300), the 1,200 thinking tokens apart.
    gemini = {"input_tokens": 2000, "output_tokens": 300, "total_tokens": 2300, "reasoning_tokens": 1200,
              "cache_read_tokens": 500}  # fmt: skip
    # Agno's Claude metrics: input_tokens without the cache (1,000 + 3,000 read + 500 written).
    claude = {"input_tokens": 1000, "output_tokens": 250, "total_tokens": 1250, "cache_read_tokens": 3000,
              "cache_write_tokens": 500}  # fmt: skip
    await agent.send(room, {"msgtype": "m.text", "body": "42", "io.mindroom.ai_run":
                            ai_run("Google", "gemini-2.5-flash", gemini)})  # fmt: skip
    await agent.send(room, {"msgtype": "m.text", "body": "43", "io.mindroom.ai_run":
                            ai_run("Anthropic", "claude-sonnet-4-5", claude)})  # fmt: skip
    await wait_stored(db, 2)
    got = rows(db)
    *tokens, cost, ts_ms = got["gemini-2.5-flash"]
    assert tokens == [2000, 1500, 500, 0, 1200]
    assert pico_to_usd(cost) == price("google", "gemini-2.5-flash", ts_ms, input_tokens=2000, output_tokens=1500,
                                      cache_read_tokens=500)  # fmt: skip
    *tokens, cost, ts_ms = got["claude-sonnet-4-5"]
    assert tokens == [4500, 250, 3000, 500, 0]
    assert pico_to_usd(cost) == price("anthropic", "claude-sonnet-4-5", ts_ms, input_tokens=4500, output_tokens=250,
                                      cache_read_tokens=3000, cache_write_tokens=500)  # fmt: skip
