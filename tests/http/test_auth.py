"""Every auth failure, for reads and for writes: its status, nothing leaked, nothing stored."""

from __future__ import annotations

import json

import pytest

from .conftest import KEYS, bearer, stored_count
from .test_endpoints import EVENTS, post

READS = [("/v1/usage", {"period": "2026-10"}), ("/v1/quotas", {"room": "!a:x"}), ("/metrics", {}),
         ("/openapi.json", {})]  # fmt: skip
BAD_HEADERS = [{}, {"Authorization": "Bearer not-a-key-of-ours-at-all"}, {"Authorization": KEYS["admin"]},
               {"Authorization": f"Basic {KEYS['admin']}"}, {"Authorization": f"Bearer {KEYS['admin']}x"},
               {"Authorization": f"Bearer {KEYS['admin'][:-1]}"}]  # fmt: skip


@pytest.fixture
async def seeded(base, client):
    assert (await post(client, base, EVENTS))[0] == 200
    return base


def assert_leaks_nothing(text: str) -> None:
    for secret in ("!b:x", "@bob:x", "researcher", "gpt-4o", "calls", *KEYS.values()):
        assert secret not in text


@pytest.mark.parametrize("headers", BAD_HEADERS)
@pytest.mark.parametrize(("path", "params"), READS)
async def test_reads_without_a_known_key_are_401(seeded, client, path, params, headers):
    async with client.get(f"{seeded}{path}", params=params, headers=headers) as r:
        assert r.status == 401
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        assert_leaks_nothing(await r.text())


@pytest.mark.parametrize("headers", BAD_HEADERS)
async def test_writes_without_a_known_key_are_401_and_store_nothing(seeded, client, db_url, headers):
    before = stored_count(db_url)
    event = {**EVENTS[0], "event_id": "new"}
    async with client.post(f"{seeded}/v1/events", data=json.dumps(event), headers=headers) as r:
        assert r.status == 401
        assert_leaks_nothing(await r.text())
    assert stored_count(db_url) == before


async def test_a_key_without_ingest_cannot_write(seeded, client, db_url):
    status, answer = await post(client, seeded, {**EVENTS[0], "event_id": "new"}, key="reader")
    assert status == 403 and "ingest" in answer["error"]
    assert stored_count(db_url) == 4


@pytest.mark.parametrize("key", ["reader", "writer"])
@pytest.mark.parametrize("path", ["/v1/usage", "/v1/quotas"])
async def test_a_room_outside_the_keys_rooms_is_403(seeded, client, key, path):
    async with client.get(f"{seeded}{path}", params={"room": "!b:x", "period": "2026-10"} if path == "/v1/usage"
                          else {"room": "!b:x"}, headers=bearer(key)) as r:  # fmt: skip
        assert r.status == 403
        body = await r.json()
    assert body == {"error": "room !b:x is outside this key's rooms"}


async def test_without_room_a_limited_key_sees_exactly_its_rooms(seeded, client):
    async with client.get(f"{seeded}/v1/usage", params={"period": "2026-10", "by": "room"},
                          headers=bearer("reader")) as r:  # fmt: skip
        body = await r.json()
    assert [row["key"] for row in body["rows"]] == ["!a:x"]
    assert body["totals"]["calls"] == 3
    async with client.get(f"{seeded}/v1/usage", params={"period": "2026-10", "by": "user"},
                          headers=bearer("reader")) as r:  # fmt: skip
        assert "@bob:x" not in await r.text()
    async with client.get(f"{seeded}/v1/usage", params={"period": "2026-10"}, headers=bearer("admin")) as r:
        assert (await r.json())["totals"]["calls"] == 4


@pytest.mark.parametrize("room", ["!b:x", None])
async def test_events_for_rooms_outside_the_key_refuse_the_whole_request_naming_each(seeded, client, db_url, room):
    good = {**EVENTS[0], "event_id": "good"}
    other = {**EVENTS[0], "event_id": "other", "room_id": room}
    also = {**EVENTS[0], "event_id": "also", "room_id": "!c:x"}
    status, answer = await post(client, seeded, [good, other, also], key="writer")
    assert status == 403 and answer["error"].startswith("events[1].room_id:") and answer["index"] == 1
    assert [(r["index"], r["error"].split(":")[0]) for r in answer["rejected"]] == [(1, "events[1].room_id"),
                                                                                   (2, "events[2].room_id")]
    assert stored_count(db_url) == 4
    assert await post(client, seeded, [good], key="writer") == (200, {"stored": 1, "duplicates": 0, "rejected": []})


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "bEaReR"])
async def test_the_scheme_is_taken_in_any_case(seeded, client, scheme):
    async with client.get(f"{seeded}/v1/usage", params={"period": "2026-10"},
                          headers={"Authorization": f"{scheme} {KEYS['reader']}"}) as r:  # fmt: skip
        assert r.status == 200
        assert (await r.json())["totals"]["calls"] == 3  # the reader's room only


@pytest.mark.parametrize("key", ["reader", "writer"])
async def test_metrics_need_a_key_for_every_room(seeded, client, key):
    async with client.get(f"{seeded}/metrics", headers=bearer(key)) as r:
        assert r.status == 403
        text = await r.text()
    assert "rooms: all" in text
    assert_leaks_nothing(text)
    async with client.get(f"{seeded}/metrics", headers=bearer("admin")) as r:
        assert r.status == 200 and "usage_calls_total" in await r.text()
