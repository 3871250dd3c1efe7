"""The collector stores each event with the name of the key that posted it as its `source`, an event_id is unique
within a room only, `GET /v1/usage?by=source` answers, and a half-hour timezone costs no more queries than UTC."""

from __future__ import annotations

import json
from collections import Counter

from .conftest import bearer, stored_count

EVENT = {"event_id": "$call", "ts": "2026-08-05T09:15:00Z", "provider": "openai", "model": "gpt-4o",
         "input_tokens": 1200, "output_tokens": 30, "room_id": "!a:x"}  # fmt: skip


async def post(client, base, body, key):
    async with client.post(f"{base}/v1/events", data=json.dumps(body), headers=bearer(key)) as r:
        return r.status, await r.json()


async def usage(client, base, **query):
    async with client.get(f"{base}/v1/usage", params=query, headers=bearer("admin")) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def test_the_key_names_the_source_and_an_event_id_is_unique_per_room(base, client, db_url):
    assert await post(client, base, [EVENT, {**EVENT, "room_id": "!b:x", "input_tokens": 7}], "admin") == (
        200, {"stored": 2, "duplicates": 0, "rejected": []})  # fmt: skip
    assert await post(client, base, {**EVENT, "input_tokens": 9}, "writer") == (
        200, {"stored": 0, "duplicates": 1, "rejected": []})  # fmt: skip
    assert await post(client, base, {**EVENT, "event_id": "$other"}, "writer") == (
        200, {"stored": 1, "duplicates": 0, "rejected": []})  # fmt: skip
    status, answer = await post(client, base, {**EVENT, "event_id": "$mine", "source": "tracker"}, "writer")
    assert status == 400 and "events[0].source" in answer["error"]  # a body cannot name its own source
    assert stored_count(db_url) == 3
    report = await usage(client, base, period="2026-08", by="source", tz="Asia/Kolkata")
    assert {r["key"]: (r["calls"], r["input_tokens"]) for r in report["rows"]} == {"admin": (2, 1207),
                                                                                   "writer": (1, 1200)}  # fmt: skip
    by_room = await usage(client, base, period="2026-08", by="room")
    assert {r["key"]: r["calls"] for r in by_room["rows"]} == {"!a:x": 2, "!b:x": 1}


async def test_a_half_hour_timezone_costs_no_more_queries_than_utc(server, base, client):
    events = [{**EVENT, "event_id": f"e{i}", "ts": f"20{23 + i % 3}-{i % 12 + 1:02d}-{i % 28 + 1:02d}T18:{i:02d}:00Z"}
              for i in range(60)]  # fmt: skip
    for first in range(0, 60, 10):  # within the test server's max_body_bytes
        assert (await post(client, base, events[first : first + 10], "admin"))[0] == 200
    queries: Counter = Counter()
    fetch = server.store._fetchall

    async def counting(sql, params=()):
        queries[sql.count(" FROM events ")] += 1
        return await fetch(sql, params)

    server.store._fetchall = counting
    counts = {}
    for tz in ("UTC", "Asia/Kolkata", "Asia/Kathmandu"):
        for by in ("day", "hour"):
            queries.clear()
            report = await usage(client, base, period="all", by=by, tz=tz)
            assert report["totals"]["calls"] == 60
            counts[(tz, by)] = (sum(queries.values()), queries[1])
    assert set(counts.values()) == {(1, 0)}  # one query over the rollups, no raw events, in every zone
