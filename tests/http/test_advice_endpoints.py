"""GET /v1/whatif and GET /v1/savings against the running server: exact figures, key scope, bad parameters."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from matrix_usage_bot import tracking

from ..tracking.advice_calls import OTHER_ROOM, ROOM, make_calls, pico, usage_of
from .conftest import bearer, make_config

READER_ROOM = "!a:x"  # the reader key's only room


@pytest.fixture
async def served(db_url):
    from matrix_usage_bot.bot.http.server import UsageServer

    calls = make_calls(300, seed=91)
    calls += [dict(c, room_id=READER_ROOM, event_id=f"r{i}") for i, c in enumerate(calls[:40])]
    async with tracking.Tracker(db_url) as tracker:
        for call in calls:
            tracker.record(**call)
    srv = await UsageServer(make_config(db_url, bot={"timezone": "Asia/Kolkata"})).start()
    yield f"http://127.0.0.1:{srv.port}", calls
    await srv.close()


def _in(calls: list[dict], room: str, start: datetime, end: datetime) -> list[dict]:
    return [c for c in calls if c["room_id"] == room and start <= c["ts"] < end]


async def get(client, url: str, key: str = "admin", **params: str) -> tuple[int, dict]:
    async with client.get(url, params=params, headers=bearer(key)) as response:
        return response.status, await response.json()


async def test_whatif_over_http_is_calc_price_of_each_call_on_the_model(served, client):
    base, calls = served
    # 2026-10-01..2026-10-31 in Kolkata: from 2026-09-30 18:30 UTC
    status, body = await get(client, f"{base}/v1/whatif", room=ROOM, model="deepseek/deepseek-chat",
                             period="2026-10-01..2026-10-31")  # fmt: skip
    assert status == 200, body
    start, end = datetime(2026, 9, 30, 18, 30, tzinfo=UTC), datetime(2026, 10, 31, 18, 30, tzinfo=UTC)
    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for c in _in(calls, ROOM, start, end):
        then = pico(c["provider"], c["model"], c["ts"], usage_of(c))
        row = expected[c["agent"]]
        row[0] += 1
        row[1] += then or 0
        row[2] += pico("deepseek", "deepseek-chat", c["ts"], usage_of(c))
    assert body["model"] == "deepseek/deepseek-chat" and body["known"] is True and body["summed_calls"] == 0
    assert body["period"] == {"start": start.isoformat(), "end": end.isoformat()}
    got = {r["agent"]: [r["calls"], r["cost_pusd"], r["whatif_cost_pusd"]] for r in body["rows"]}
    assert got == dict(expected)
    for r in body["rows"]:
        assert r["whatif_cost_usd"] == float(Decimal(r["whatif_cost_pusd"]) / 10**12)  # the exact figure, as a number
        assert r["whatif_unpriced_calls"] == 0
    assert body["totals"]["whatif_cost_pusd"] == sum(v[2] for v in expected.values())


async def test_savings_over_http_by_agent_and_model(served, client):
    base, calls = served
    status, body = await get(client, f"{base}/v1/savings", room=ROOM, period="2026-10")
    assert status == 200, body
    start, end = datetime(2026, 9, 30, 18, 30, tzinfo=UTC), datetime(2026, 10, 31, 18, 30, tzinfo=UTC)
    expected: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for c in _in(calls, ROOM, start, end):
        row = expected[(c["agent"], c["model"])]
        made = pico(c["provider"], c["model"], c["ts"], usage_of(c))
        row[0] += 1
        row[1] += c["input_tokens"]
        row[2] += c.get("cache_read_tokens", 0)
        row[3] += 0 if made is None else pico(c["provider"], c["model"], c["ts"], usage_of(c, cache=False)) - made
    got = {(r["agent"], r["model"]): [r["calls"], r["input_tokens"], r["cache_read_tokens"], r["saved_pusd"]]
           for r in body["rows"]}  # fmt: skip
    assert got == dict(expected)
    for r in body["rows"]:
        assert r["hit_rate"] == (r["cache_read_tokens"] / r["input_tokens"] if r["input_tokens"] else None)


async def test_the_keys_rooms_bound_advice(served, client):
    base, _ = served
    for path, params in (("whatif", {"model": "gpt-4o-mini"}), ("savings", {})):
        status, body = await get(client, f"{base}/v1/{path}", "reader", room=OTHER_ROOM, **params)
        assert (status, body["error"]) == (403, f"room {OTHER_ROOM} is outside this key's rooms")
        status, body = await get(client, f"{base}/v1/{path}", "reader", room=READER_ROOM, period="all", **params)
        assert status == 200 and body["totals"]["calls"] == 40
    async with client.get(f"{base}/v1/savings", params={"room": READER_ROOM}) as response:
        assert response.status == 401


@pytest.mark.parametrize(("path", "params", "error"), [
    ("whatif", {"model": "gpt-4o"}, "room: required (the room whose calls to price)"),
    ("whatif", {"room": ROOM}, "model: required, a model or provider/model"),
    ("whatif", {"room": ROOM, "model": "x" * 256}, "model: required, a model or provider/model (at most 255"),
    ("whatif", {"room": ROOM, "model": "gpt-4o", "period": "fortnight"}, "period: unknown period 'fortnight'"),
    ("savings", {"room": ROOM, "by": "agent"}, "by: unknown parameter; use period, room"),
    ("savings", {"room": ROOM, "period": "2026-02-30"}, "period: period '2026-02-30': day is out of range for month"),
])  # fmt: skip
async def test_bad_parameters_are_400_naming_them(served, client, path, params, error):
    base, _ = served
    status, body = await get(client, f"{base}/v1/{path}", **params)
    assert status == 400 and body["error"].startswith(error), body


async def test_a_repeated_parameter_is_400(served, client):
    base, _ = served
    async with client.get(f"{base}/v1/savings?room=!a:x&room=!b:x", headers=bearer("admin")) as response:
        assert (response.status, (await response.json())["error"]) == (400, "room: given more than once")


async def test_openapi_describes_advice(served, client):
    base, _ = served
    status, body = await get(client, f"{base}/openapi.json")
    assert status == 200 and {"/v1/whatif", "/v1/savings"} <= set(body["paths"])
