"""A malformed body of any shape is a 400 naming what is wrong, never a 500 (README: HTTP API, bounded work).

Found in the attack pass: an integer of thousands of digits (Python's int-string limit raises ValueError)
and a deeply nested body (RecursionError) were 500s. The property test throws arbitrary JSON-ish bodies
at the real collector: `UsageServer` over a real SQLite store, on loopback.
"""

from __future__ import annotations

import json
import string
from collections.abc import AsyncIterator

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matrix_usage_bot.bot.http.server import UsageServer
from matrix_usage_bot.tracking.fields import ATTRIBUTION, COUNTERS

from .conftest import bearer, make_config, stored_count

GOOD = {"provider": "openai", "model": "gpt-4o", "input_tokens": 10, "output_tokens": 2, "room_id": "!a:x"}
FINITE = "must be a finite number of milliseconds, at least 0, got "


@pytest.fixture
async def collector(db_url: str) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    server = await UsageServer(make_config(db_url, http={"max_body_bytes": 2_000_000})).start()
    try:
        async with aiohttp.ClientSession() as session:
            yield session, f"http://127.0.0.1:{server.port}/v1/events"
    finally:
        await server.close()


async def post(collector: tuple[aiohttp.ClientSession, str], body: bytes, key: str = "admin") -> tuple[int, dict]:
    session, url = collector
    async with session.post(url, data=body, headers=bearer(key)) as response:
        return response.status, await response.json()


def good_with(raw: str) -> bytes:
    """The good event with `"extra": RAW` spliced in as raw JSON text (numbers json.dumps cannot write)."""
    return json.dumps(GOOD).encode()[:-1] + b', ' + raw.encode() + b"}"


@pytest.mark.parametrize(("body", "error"), [
    (good_with('"input_tokens": ' + "7" * 5000).replace(b'"input_tokens": 10, ', b""),
     "body: not valid JSON (a number of more than 4,300 digits)"),
    (b"[" * 50_000 + b"]" * 50_000, "body: not valid JSON (nested too deeply)"),
    (good_with('"metadata": ' + '{"a": ' * 5000 + "1" + "}" * 5000), "body: not valid JSON (nested too deeply)"),
    (good_with('"latency_ms": NaN'), "body: not valid JSON (NaN is not a JSON number)"),
    (good_with('"latency_ms": -Infinity'), "body: not valid JSON (-Infinity is not a JSON number)"),
    (json.dumps(GOOD).encode() + b"\n" + good_with('"output_tokens": ' + "9" * 4400).replace(b'"output_tokens": 2, ',
                                                                                              b""),
     "body: line 2 is not valid JSON (a number of more than 4,300 digits)"),
    (good_with('"latency_ms": 1e999'), "events[0].latency_ms: " + FINITE + "inf"),
    (good_with('"cost_usd": -1e999'), "events[0].cost_usd: must be a number of US dollars from 0 to 1,000,000, got"
                                      " -inf"),
    (good_with('"ts": "9999-12-31T23:59:59-14:00"'),
     "events[0].ts: must lie between 2000-01-01 and 2100-01-01 (UTC), got '9999-12-31T23:59:59-14:00'"),
    (good_with('"ts": 1e300'), "events[0].ts: must lie between 2000-01-01 and 2100-01-01 (UTC), got 1e+300"),
    (good_with('"agent": "sc\\u0000ribe"'),
     "events[0].agent: holds a NUL character (\\x00), which PostgreSQL cannot store in text"),
    (good_with('"thread_id": "$\\ud83d"'),
     "events[0].thread_id: holds a lone surrogate (U+D83D), which is not Unicode text and no store takes"),
    (good_with('"metadata": {"note": "a\\u0000b"}'),
     "events[0].metadata: holds a NUL character (\\u0000), which PostgreSQL cannot store in text"),
    (json.dumps([GOOD, [GOOD]]).encode(), "events[1]: an event must be a JSON object"),
])  # fmt: skip
async def test_a_malformed_body_is_400_naming_what_is_wrong(collector, db_url, body, error):
    status, answer = await post(collector, body)
    assert (status, answer["error"]) == (400, error)
    assert stored_count(db_url) == 0


_SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
            | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
            | st.sampled_from(["ok", "error", "provider", "estimated", "2026-10-04T10:00:00Z", "\x00", "\ud800"]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                                          max_size=4), max_leaves=12)
_NAMES = st.sampled_from([*COUNTERS, *ATTRIBUTION, "event_id", "ts", "provider", "model", "latency_ms", "status",
                          "metadata", "usage_source", "cost_usd", "total_tokens", "colour"])
_EVENTS = st.builds(lambda extra, drop: {**{k: v for k, v in GOOD.items() if k not in drop}, **extra},
                    st.dictionaries(_NAMES, _VALUES, max_size=4), st.sets(st.sampled_from(list(GOOD)), max_size=2))
_JSON = st.one_of(_EVENTS, st.lists(_EVENTS | _VALUES, min_size=0, max_size=6), _VALUES)
_BODIES = st.one_of(
    _JSON.map(lambda value: json.dumps(value).encode("utf-8", "surrogatepass")),  # NaN and Infinity too
    st.lists(_JSON, min_size=2, max_size=4).map(lambda values: "\n".join(map(json.dumps, values)).encode()),
    st.binary(max_size=64),
    st.text(alphabet=string.printable, max_size=64).map(str.encode),
    st.tuples(st.sampled_from(["[", '{"a":', '{"metadata":{"x":']), st.integers(1, 4000)).map(
        lambda shape: (shape[0] * shape[1]).encode()),
    st.integers(4000, 6000).map(lambda digits: good_with('"latency_ms": ' + "1" * digits)),
    st.tuples(st.sampled_from(["{}", "1", "[]", json.dumps(GOOD)]), st.integers(500, 3000)).map(  # many tiny items
        lambda many: ("[" + ",".join([many[0]] * many[1]) + "]").encode()),
)


@settings(max_examples=250, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(body=_BODIES, key=st.sampled_from(["admin", "writer"]))
async def test_no_body_is_a_server_error(collector, body, key):
    status, answer = await post(collector, body, key)
    assert status in (200, 400, 403), (status, answer, body[:200])
    if status == 200:
        assert set(answer) == {"stored", "duplicates", "rejected"}
    else:
        assert answer["error"].startswith(("body", "events[")), answer
