"""Every endpoint of README: HTTP API against the running server, with exact figures."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal

from genai_prices import Usage, calc_price

from matrix_usage_bot.bot.http.handlers import ROUTES
from tests.usagebot import usage_bot

from .conftest import bearer, make_config, stored_count

EVENTS = [
    {"event_id": "e1", "ts": "2026-10-03T09:00:00Z", "provider": "openai", "model": "gpt-4o", "input_tokens": 1200,
     "output_tokens": 300, "cache_read_tokens": 200, "room_id": "!a:x", "agent": "researcher", "latency_ms": 800},
    {"event_id": "e2", "ts": "2026-10-04T10:00:00Z", "provider": "anthropic", "model": "claude-sonnet-4-5",
     "input_tokens": 5000, "output_tokens": 400, "cache_read_tokens": 3000, "cache_write_tokens": 1000,
     "room_id": "!a:x", "agent": "coder"},
    {"event_id": "e3", "ts": "2026-10-04T11:00:00Z", "provider": "openai", "model": "gpt-4o", "input_tokens": 100,
     "output_tokens": 10, "room_id": "!b:x", "agent": "researcher", "user_id": "@bob:x"},
    {"event_id": "e4", "ts": "2026-10-04T12:00:00Z", "provider": "local", "model": "my-own-llm", "input_tokens": 7,
     "output_tokens": 3, "room_id": "!a:x", "agent": "coder"},
]  # fmt: skip


def price(event: dict) -> Decimal:
    usage = Usage(input_tokens=event["input_tokens"], output_tokens=event["output_tokens"],
                  cache_read_tokens=event.get("cache_read_tokens", 0),
                  cache_write_tokens=event.get("cache_write_tokens", 0))  # fmt: skip
    when = datetime.fromisoformat(event["ts"]).astimezone(UTC)
    return calc_price(usage, event["model"], provider_id=event["provider"], genai_request_timestamp=when).total_price


async def post(client, base, body, key="admin", **headers):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    async with client.post(f"{base}/v1/events", data=data, headers={**bearer(key), **headers}) as r:
        return r.status, await r.json()


async def test_healthz_needs_no_key_and_says_when_the_store_is_gone(server, base, client):
    async with client.get(f"{base}/healthz") as r:
        assert (r.status, await r.json()) == (200, {"status": "ok"})
    await server.store.close()  # the store stops answering
    async with client.get(f"{base}/healthz") as r:
        assert (r.status, await r.json()) == (503, {"status": "unavailable"})


async def test_events_one_array_and_json_lines_duplicates_once(base, client, db_url):
    assert await post(client, base, EVENTS[0]) == (200, {"stored": 1, "duplicates": 0, "rejected": []})
    assert await post(client, base, EVENTS[:3]) == (200, {"stored": 2, "duplicates": 1, "rejected": []})
    lines = "\n".join(json.dumps(e) for e in EVENTS) + "\n"
    status, answer = await post(client, base, lines, **{"Content-Type": "application/x-ndjson"})
    assert (status, answer) == (200, {"stored": 1, "duplicates": 3, "rejected": []})
    assert stored_count(db_url) == 4


async def test_usage_is_the_cli_json_and_prices_exactly(base, client, db_url):
    await post(client, base, EVENTS)
    query = {"period": "2026-10", "by": "agent"}
    async with client.get(f"{base}/v1/usage", params=query, headers=bearer("admin")) as r:
        assert r.status == 200 and r.content_type == "application/json"
        answer = await r.text()
    cli = await asyncio.to_thread(usage_bot, "report", "--db", db_url, "--period", "2026-10", "--by", "agent",
                                  "--format", "json")  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert json.loads(answer) == json.loads(cli.stdout)
    body = json.loads(answer)
    priced = [e for e in EVENTS if e["provider"] != "local"]
    assert Decimal(str(body["totals"]["cost_usd"])) == sum(price(e) for e in priced)
    assert body["totals"]["calls"] == 4 and body["totals"]["unpriced_calls"] == 1
    assert body["totals"]["input_tokens"] == sum(e["input_tokens"] for e in EVENTS)
    assert [row["key"] for row in body["rows"]] == ["coder", "researcher"]


async def test_usage_filters_and_timezone(base, client):
    await post(client, base, EVENTS)
    query = {"period": "2026-10-04", "room": "!a:x", "agent": "coder", "tz": "Europe/Berlin"}
    async with client.get(f"{base}/v1/usage", params=query, headers=bearer("admin")) as r:
        body = await r.json()
    assert body["period"]["start"] == "2026-10-03T22:00:00+00:00"  # midnight in Berlin
    assert body["totals"]["calls"] == 2 and body["rows"] == []
    async with client.get(f"{base}/v1/usage", params={"period": "2026-10", "user": "@bob:x"},
                          headers=bearer("admin")) as r:  # fmt: skip
        assert (await r.json())["totals"]["input_tokens"] == 100


async def test_quotas_of_a_room(db_url, client):
    from matrix_usage_bot.bot.http.server import UsageServer

    quotas = {"defaults": [{"scope": "room", "window": "monthly", "limit": "10k", "hard": True},
                           {"scope": "agent", "name": "coder", "window": "daily", "limit": "$5"}]}  # fmt: skip
    srv = await UsageServer(make_config(db_url, quotas=quotas)).start()
    base = f"http://127.0.0.1:{srv.port}"
    try:
        now = datetime.now(UTC).isoformat()
        await post(client, base, {"provider": "openai", "model": "gpt-4o", "input_tokens": 1500, "output_tokens": 500,
                                  "room_id": "!a:x", "agent": "coder", "ts": now})  # fmt: skip
        async with client.get(f"{base}/v1/quotas", params={"room": "!a:x"}, headers=bearer("reader")) as r:
            assert r.status == 200
            body = await r.json()
    finally:
        await srv.close()
    assert body["room"] == "!a:x"
    by_scope = {q["scope"]: q for q in body["quotas"]}
    room = by_scope["room"]
    assert (room["unit"], room["limit"], room["used"], room["percent"], room["hard"]) == ("tokens", 10_000, 2000, 20,
                                                                                          True)  # fmt: skip
    agent = by_scope["agent"]
    expected = price({"provider": "openai", "model": "gpt-4o", "input_tokens": 1500, "output_tokens": 500, "ts": now})
    assert (agent["name"], agent["unit"], agent["limit"]) == ("coder", "usd", 5.0)
    assert Decimal(str(agent["used"])) == expected


async def test_openapi_describes_every_endpoint(base, client):
    async with client.get(f"{base}/openapi.json", headers=bearer("reader")) as r:
        spec = await r.json()
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) == {path for _, path, _ in ROUTES} >= {
        "/v1/reservations", "/v1/quotas/check", "/v1/whatif", "/v1/savings"}  # fmt: skip
    assert "cache_write_1h_tokens" in spec["components"]["schemas"]["Event"]["properties"]
