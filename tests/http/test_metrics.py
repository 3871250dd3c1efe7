"""/metrics parses with prometheus-client's parser and equals the store's totals, events coming from two
processes; it is read from the store, so a restarted server reports the same."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from decimal import Decimal
from zoneinfo import ZoneInfo

from prometheus_client.parser import text_string_to_metric_families

from matrix_usage_bot.bot.http.server import UsageServer
from matrix_usage_bot.tracking import parse_period, usage_report
from matrix_usage_bot.tracking.pricing import pico_to_usd
from matrix_usage_bot.tracking.store import open_store

from .conftest import bearer, make_config

AGENT = textwrap.dedent(
    """
    import sys
    from matrix_usage_bot import tracking
    url, who = sys.argv[1], sys.argv[2]
    calls = [("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-5"), ("local", "my-own-llm")]
    with tracking.Tracker(url) as tracker:
        for i in range(60):
            provider, model = calls[i % 3]
            tracker.record(provider=provider, model=model, input_tokens=100 + i, output_tokens=10 + i,
                           cache_read_tokens=i, reasoning_tokens=i % 5, latency_ms=50.0 * i,
                           room_id="!a:x" if i % 2 else "!b:x", agent=who, status="error" if i % 7 == 0 else "ok")
    """
)


def families(text: str) -> dict[str, dict[tuple, float]]:
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


async def scrape(port: int) -> str:
    import aiohttp

    async with aiohttp.ClientSession() as client:
        async with client.get(f"http://127.0.0.1:{port}/metrics", headers=bearer("admin")) as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
            return await r.text()


async def scraped(db_url: str, **http: object) -> dict[str, dict[tuple, float]]:
    """One scrape of /metrics from a server started on the store with these `http` settings, then closed."""
    srv = await UsageServer(make_config(db_url, http=http)).start()
    try:
        return families(await scrape(srv.port))
    finally:
        await srv.close()


async def two_agents(db_url: str) -> None:
    """Two agent processes recording at once into one store (created first, as the bot would have)."""
    await (await open_store(db_url)).close()
    agents = [await asyncio.create_subprocess_exec(sys.executable, "-c", AGENT, db_url, who) for who in ("a1", "a2")]
    assert [await p.wait() for p in agents] == [0, 0]


async def test_metrics_equal_the_store_after_two_processes(store_url):
    db_url = store_url
    await two_agents(db_url)
    store = await open_store(db_url)
    report = await usage_report(store, parse_period("all", ZoneInfo("UTC")), group="model")
    await store.close()
    srv = await UsageServer(make_config(db_url)).start()
    try:
        found = families(await scrape(srv.port))
    finally:
        await srv.close()
    providers = {"gpt-4o": "openai", "claude-sonnet-4-5": "anthropic", "my-own-llm": "local"}
    assert len(report.rows) == 3
    for row in report.rows:
        labels = (("model", row.key), ("provider", providers[row.key]))
        assert found["usage_calls_total"][labels] == row.calls == 40
        assert found["usage_error_calls_total"][labels] == row.error_calls
        assert found["usage_unpriced_calls_total"][labels] == row.unpriced_calls
        assert Decimal(str(found["usage_cost_usd_total"][labels])) == Decimal(str(float(pico_to_usd(row.cost_pusd))))
        for kind in ("input", "output", "cache_read", "cache_write", "reasoning"):
            assert found["usage_tokens_total"][(*labels[:1], *labels[1:], ("type", kind))] == getattr(
                row, f"{kind}_tokens")
        assert found["usage_call_duration_seconds_count"][labels] == 40
        assert found["usage_call_duration_seconds_bucket"][(("le", "+Inf"), *labels)] == 40
    assert found["usage_unpriced_calls_total"][(("model", "my-own-llm"), ("provider", "local"))] == 40
    assert sum(found["usage_calls_total"].values()) == report.totals.calls == 120
    seconds = sum(found["usage_call_duration_seconds_sum"].values())
    assert abs(seconds - 2 * sum(0.05 * i for i in range(60))) < 1e-9


async def test_room_and_agent_labels_when_configured(db_url):
    await two_agents(db_url)
    calls = (await scraped(db_url, metrics={"labels": ["room", "agent"]}))["usage_calls_total"]
    assert {dict(k)["room"] for k in calls} == {"!a:x", "!b:x"} and {dict(k)["agent"] for k in calls} == {"a1", "a2"}
    assert sum(calls.values()) == 120
    again = await scraped(db_url, metrics={"labels": ["room", "agent"]})  # a new server: restarts change nothing
    assert again["usage_calls_total"] == calls
