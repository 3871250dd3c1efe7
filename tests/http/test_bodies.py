"""Bad bodies get 400 naming the field (413 over the limit) and store nothing of the request."""

from __future__ import annotations

import json

import pytest

from .conftest import stored_count
from .test_endpoints import EVENTS, post

GOOD = {"provider": "openai", "model": "gpt-4o", "input_tokens": 10, "output_tokens": 2, "room_id": "!a:x"}


@pytest.mark.parametrize(("body", "error"), [
    ([GOOD, {**GOOD, "input_tokens": -1}], "events[1].input_tokens: must not be negative, got -1"),
    ([GOOD, {**GOOD, "input_tokens": "10"}], "events[1].input_tokens: must be an integer, got '10'"),
    ([GOOD, {**GOOD, "output_tokens": 1.5}], "events[1].output_tokens: must be an integer, got 1.5"),
    ([{**GOOD, "provider": 7}], "events[0].provider: must be a string, got 7"),
    ([{**GOOD, "model": None}], "events[0].model: is required (a non-empty string)"),
    ([{**GOOD, "ts": "yesterday"}], "events[0].ts: must be ISO-8601 text, a datetime or Unix seconds, got 'yesterday'"),
    ([{**GOOD, "status": "maybe"}], "events[0].status: must be 'ok' or 'error', got 'maybe'"),
    ([{**GOOD, "colour": "red"}], "events[0].colour: unknown field"),
    ([GOOD, 5], "events[1]: an event must be a JSON object"),
    ([GOOD, {**GOOD, "cost_usd": 2_000_000}],
     "events[1].cost_usd: must be a number of US dollars from 0 to 1,000,000, got 2000000"),
    ([], "body: an empty array holds no event"),
])  # fmt: skip
async def test_a_bad_event_refuses_the_request(base, client, db_url, body, error):
    status, answer = await post(client, base, body, key="writer")
    assert status == 400
    assert answer["error"].startswith(error)
    assert stored_count(db_url) == 0


@pytest.mark.parametrize(("text", "error"), [
    (b"{not json", "body: not valid JSON"),
    (b"", "body: empty"),
    (json.dumps(GOOD).encode() + b"\n{oops\n", "body: line 2 is not valid JSON"),
    (b"\xff\xfe", "body: not UTF-8"),
])  # fmt: skip
async def test_invalid_json_is_400(base, client, db_url, text, error):
    status, answer = await post(client, base, text, key="writer")
    assert status == 400 and answer["error"].startswith(error)
    assert stored_count(db_url) == 0


async def test_a_body_over_the_limit_is_413(base, client, db_url):
    body = [{**GOOD, "event_id": f"e{i}"} for i in range(60)]  # about 6 KB, over the 4096 configured
    assert len(json.dumps(body)) > 4096
    status, answer = await post(client, base, body, key="writer")
    assert status == 413 and answer["error"].startswith("body: larger than http.max_body_bytes (4,096 bytes)")
    assert stored_count(db_url) == 0


@pytest.mark.parametrize(("query", "error"), [
    ({"period": "someday"}, "period: "),
    ({"by": "colour"}, "by: unknown breakdown 'colour'"),
    ({"tz": "Mars/Olympus"}, "tz: unknown timezone"),
    ({"rooms": "!a:x"}, "rooms: unknown parameter"),
])  # fmt: skip
async def test_bad_parameters_are_400(base, client, query, error):
    from .conftest import bearer

    async with client.get(f"{base}/v1/usage", params=query, headers=bearer("admin")) as r:
        assert r.status == 400
        assert (await r.json())["error"].startswith(error)


async def test_quotas_need_a_room(base, client):
    from .conftest import bearer

    async with client.get(f"{base}/v1/quotas", headers=bearer("admin")) as r:
        assert (r.status, (await r.json())["error"]) == (400, "room: required (the room whose quotas to show)")
    assert EVENTS  # the shared fixture data stays importable
