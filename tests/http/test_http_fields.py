"""Every path carries every field (docs/events.md): the same calls recorded by a local tracker and by an HTTP
tracker through the real collector are stored as the same rows, on SQLite and on PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import openai
import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.bot.http.server import UsageServer
from matrix_usage_bot.tracking.fields import EVENT_COLUMNS
from tests.dbrows import rows
from tests.fakes.providers import FakeProviders, Reply

from .conftest import KEYS, make_config

COMPARED = [name for name in EVENT_COLUMNS if name != "source"]  # the source is the entry point's own
MODELS = [("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-5"), ("google", "gemini-2.5-flash"),
          ("openai", "gpt-4o-mini-audio-preview"), ("local", "my-own-llm")]  # fmt: skip
NAMES = [None, "", "researcher", "ünïcødé ✓", "a" * 255, "<b>&'\""]


@pytest.fixture
def second_url(store_url: str, request: pytest.FixtureRequest, tmp_path) -> str:
    """Another store of the same backend as `store_url`."""
    if store_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'local.db'}"
    return request.getfixturevalue("pg_server").new_database()


def stored(url: str) -> list[tuple]:
    return rows(url, f"SELECT {', '.join(COMPARED)} FROM events ORDER BY event_id")


def random_call(rng: random.Random, n: int) -> dict:
    provider, model = rng.choice(MODELS)
    inp, out = rng.choice([0, 1, rng.randrange(10**6)]), rng.choice([0, 7, rng.randrange(10**5)])

    def part(whole: int) -> int:
        if rng.random() < 0.03:
            return whole + 1 + rng.randrange(5)  # a part above its whole: stored as reported
        return rng.choice([0, whole // 3, rng.randrange(whole + 1)])

    start = rng.choice([datetime(2024, 1, 1, tzinfo=UTC), datetime(2040, 1, 1, tzinfo=UTC)])  # past 2**31 s too
    ts = start + timedelta(microseconds=rng.randrange(50 * 365 * 86_400 * 10**6 if start.year > 2030 else
                                                      3 * 365 * 86_400 * 10**6))  # fmt: skip
    return dict(
        provider=provider, model=model, input_tokens=inp, output_tokens=out, cache_read_tokens=part(inp // 2),
        cache_write_tokens=part(inp // 4), cache_write_1h_tokens=part(inp // 8), reasoning_tokens=part(out),
        input_audio_tokens=part(inp // 5), output_audio_tokens=part(out // 3), input_image_tokens=part(inp // 6),
        output_image_tokens=part(out // 4), web_searches=rng.choice([0, 0, 1, 12]),
        usage_source=rng.choice(["provider", "estimated"]), room_id=rng.choice(["!a:x", "!b:x", None]),
        thread_id=rng.choice(NAMES), agent=rng.choice(NAMES), user_id=rng.choice(NAMES),
        session_id=rng.choice(NAMES), operation=rng.choice([None, "chat", "embedding", "summary"]),
        latency_ms=rng.choice([None, 0, 12, 0.25, rng.uniform(0, 10**5)]), status=rng.choice(["ok", "error"]),
        metadata=rng.choice([None, {}, {"tool": "search", "n": 3}, {"nested": {"ü": [1, 2.5, None, True]}}]),
        ts=rng.choice([ts, ts.timestamp(), ts.replace(tzinfo=None)]), event_id=f"call-{n:04d}",
    )  # fmt: skip


async def test_every_field_arrives_as_a_local_tracker_stores_it(store_url, second_url, tmp_path):
    rng = random.Random(24)
    calls = [random_call(rng, n) for n in range(400)]
    server = await UsageServer(make_config(store_url)).start()
    try:
        async with tracking.Tracker(f"http://127.0.0.1:{server.port}", api_key=KEYS["admin"],
                                    spool=tmp_path / "spool.jsonl") as remote:  # fmt: skip
            for call in calls:
                remote.record(**call)
    finally:
        await server.close()
    async with tracking.Tracker(second_url) as local:
        for call in calls:
            local.record(**call)
    over_http, here = stored(store_url), stored(second_url)
    assert len(here) == 400
    assert {r[COMPARED.index("usage_source")] for r in here} == {"provider", "estimated"}
    for remote_row, local_row in zip(over_http, here, strict=True):
        assert dict(zip(COMPARED, remote_row, strict=True)) == dict(zip(COMPARED, local_row, strict=True))


async def test_an_estimated_call_over_http_is_stored_estimated(db_url, tmp_path):
    """A reply without usage, through the OpenAI hook of an HTTP tracker: estimated, as on a local store."""
    server = await UsageServer(make_config(db_url)).start()
    local_url = f"sqlite:///{tmp_path / 'local.db'}"
    try:
        with FakeProviders() as providers:
            providers.responder = lambda endpoint, body: Reply(text="Four words, no usage.", no_usage=True)
            for url, key in ((f"http://127.0.0.1:{server.port}", KEYS["writer"]), (local_url, None)):
                async with tracking.Tracker(url, api_key=key, spool=tmp_path / "spool.jsonl") as tracker:
                    client = tracking.instrument_openai(openai.OpenAI(base_url=providers.url + "/v1", api_key="k"),
                                                        tracker)  # fmt: skip
                    with tracking.attribute(room_id="!a:x", agent="estimator"):
                        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    finally:
        await server.close()
    columns = "usage_source, input_tokens, output_tokens, cost_pusd, room_id, agent, provider, model, status"
    [over_http] = rows(db_url, f"SELECT {columns} FROM events")
    assert over_http[0] == "estimated" and over_http[2] > 0
    assert rows(local_url, f"SELECT {columns} FROM events") == [over_http]
