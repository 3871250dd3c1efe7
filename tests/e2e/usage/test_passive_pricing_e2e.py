"""Passively collected MindRoom usage is priced with the config's overrides, like every other entry point."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest
from genai_prices import Usage, calc_price

from .test_mindroom_e2e import wait_stored

pytestmark = pytest.mark.synapse

OVERRIDES = [
    {"match": "ollama/*", "input": 0, "output": 0},
    {"match": "mycorp/internal-*", "input": "0.5", "output": "1.5", "cache_read": "0.05", "cache_write": "0.6"},
]


def reply(provider: str, model: str, usage: dict) -> dict:
    run = {"version": 1, "run_id": f"run-{model}", "session_id": "s-1", "status": "completed",
           "model": {"config": "default", "id": model, "provider": provider}, "usage": usage,
           "context": {}, "tools": {"count": 0}}  # fmt: skip
    return {"msgtype": "m.text", "body": "done", "io.mindroom.stream_status": "completed", "io.mindroom.ai_run": run}


def rows_by_event(db: Path) -> dict[str, tuple]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT event_id, provider, model, ts_ms, input_tokens, output_tokens, cache_read_tokens,"
            " cache_write_tokens, cost_pusd FROM events"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


async def origin_ts(user, room: str, event_id: str) -> int:
    """The event's origin_server_ts, as the homeserver gives it: the time the call is priced at."""
    return (await user.api("GET", f"/_matrix/client/v3/rooms/{room}/event/{event_id}"))["origin_server_ts"]


def pico(usd: Decimal) -> int:
    return int((usd * 10**12).to_integral_value(rounding=ROUND_HALF_EVEN))


async def test_overridden_models_collected_passively_cost_exactly_the_override(make_user, make_usage_bot, db_url):
    db = Path(db_url.removeprefix("sqlite:///"))
    alice, agent = await make_user("alice"), await make_user("mindroom_coder")
    bot = await make_usage_bot(mindroom=True, pricing={"overrides": OVERRIDES})
    room = await alice.room_with(bot, others=[agent])

    local = await agent.send(room, reply("ollama", "llama3.1:8b", {"input_tokens": 1200, "output_tokens": 30}))
    corp = await agent.send(room, reply("mycorp", "internal-coder-2", {
        "input_tokens": 2000, "output_tokens": 300, "cache_read_tokens": 500, "cache_write_tokens": 100,
    }))  # fmt: skip
    priced = await agent.send(room, reply("openai", "gpt-4o", {"input_tokens": 4000, "output_tokens": 250,
                                                               "cache_read_tokens": 1024}))  # fmt: skip
    await wait_stored(db, 3)
    rows = rows_by_event(db)

    for event_id in (local, corp, priced):
        assert rows[event_id][2] == await origin_ts(agent, room, event_id)
    assert rows[local] == ("ollama", "llama3.1:8b", rows[local][2], 1200, 30, 0, 0, 0)  # $0, not unpriced (NULL)

    # 1,400 uncached input at $0.5/M, 500 cache reads at $0.05/M, 100 cache writes at $0.6/M, 300 output at $1.5/M
    corp_usd = (1400 * Decimal("0.5") + 500 * Decimal("0.05") + 100 * Decimal("0.6") + 300 * Decimal("1.5")) / 10**6
    assert corp_usd == Decimal("0.001235")
    assert rows[corp] == ("mycorp", "internal-coder-2", rows[corp][2], 2000, 300, 500, 100, pico(corp_usd))

    # Not overridden: genai-prices at the message's own origin_server_ts, to the millisecond.
    ms = rows[priced][2]
    ts = datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=ms % 1000 * 1000)
    usage = Usage(input_tokens=4000, output_tokens=250, cache_read_tokens=1024)
    expected = calc_price(usage, "gpt-4o", provider_id="openai", genai_request_timestamp=ts).total_price
    assert rows[priced] == ("openai", "gpt-4o", ms, 4000, 250, 1024, 0, pico(expected))
