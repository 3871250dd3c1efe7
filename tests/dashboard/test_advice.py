"""The dashboard's advice and quotas say what the chat says: the savings of `!usage savings`, the cheaper model
with the figures of `!usage whatif` (checked against `calc_price` call by call and against the HTTP API), and
the quota table of `!usage quota` with its runway (`tracking.advice.room_runways`) and kind."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

import pytest
from genai_prices import Usage, calc_price

from matrix_usage_bot import tracking
from matrix_usage_bot.bot.dashboard.view import ViewRequest, dashboard_view
from matrix_usage_bot.bot.render.advice import change_text
from matrix_usage_bot.bot.render.numbers import exact_int, human_usd
from matrix_usage_bot.bot.render.quotas import quota_answer
from matrix_usage_bot.tracking.advice import Alternatives
from matrix_usage_bot.tracking.periods import parse_period
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.quotas import QuotaBook
from matrix_usage_bot.tracking.settings import QuotaSettings, QuotaSpec
from matrix_usage_bot.tracking.store import QuotaRow, open_store
from tests.http.conftest import bearer

from .conftest import KITCHEN
from .test_endpoints import get, token_for

BERLIN = ZoneInfo("Europe/Berlin")
APRIL = "2026-04-01..2026-04-30"
LABEL = "2026-04-01 to 2026-04-30"
APRIL_CALLS = [  # agent, provider, model, input, output, cache read, day, hour UTC
    ("scout", "openai", "gpt-4o", 24_000, 1_100, 16_000, 3, 8),
    ("scout", "openai", "gpt-4o", 9_000, 2_400, 0, 9, 17),
    ("scout", "openai", "gpt-4o", 51_000, 600, 48_000, 21, 6),
    ("drafter", "anthropic", "claude-sonnet-4-5", 30_000, 3_000, 22_000, 14, 11),
    ("drafter", "anthropic", "claude-sonnet-4-5", 4_000, 900, 0, 27, 23),
]  # fmt: skip
ALTERNATIVES = {"gpt-4o": ("gpt-4o-mini", "gpt-4.1-mini"), "claude-sonnet-4-5": ("claude-haiku-4-5",)}


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 4, day, hour, 17, 41, tzinfo=UTC)


def pico(provider: str, model: str, usage: Usage, ts: datetime) -> int:
    """genai-prices' price of one call, in pico-dollars rounded half to even (how every cost is stored)."""
    usd = calc_price(usage, model, provider_id=provider, genai_request_timestamp=ts).total_price
    return int((usd * 10**12).to_integral_value(rounding=ROUND_HALF_EVEN))


@pytest.fixture
async def recorded(db_url: str) -> str:
    async with tracking.Tracker(db_url) as tracker:
        for agent, provider, model, tokens_in, tokens_out, read, day, hour in APRIL_CALLS:
            tracker.record(room_id=KITCHEN, agent=agent, provider=provider, model=model, input_tokens=tokens_in,
                           output_tokens=tokens_out, cache_read_tokens=read, ts=at(day, hour))  # fmt: skip
        tracker.record(room_id="!cellar:example.org", agent="scout", provider="openai", model="gpt-4o",
                       input_tokens=900_000, output_tokens=9, cache_read_tokens=800_000, ts=at(12, 12))  # fmt: skip
    return db_url


def expected_savings() -> tuple[int, int, Decimal]:
    """(cost, saved, hit rate) of the room's calls, priced independently call by call."""
    cost = saved = read_total = input_total = 0
    for _, provider, model, tokens_in, tokens_out, read, day, hour in APRIL_CALLS:
        made = pico(provider, model, Usage(input_tokens=tokens_in, output_tokens=tokens_out,
                                           cache_read_tokens=read), at(day, hour))  # fmt: skip
        plain = pico(provider, model, Usage(input_tokens=tokens_in, output_tokens=tokens_out), at(day, hour))
        cost, saved = cost + made, saved + plain - made
        read_total, input_total = read_total + read, input_total + tokens_in
    return cost, saved, Decimal(read_total) / input_total


def expected_suggestion() -> tuple[str, str, str, int, int, int]:
    """(agent, model, alternative, calls, cost, cost on the alternative) with the largest saving."""
    options = []
    for agent, model in {(c[0], c[2]) for c in APRIL_CALLS}:
        calls = [c for c in APRIL_CALLS if (c[0], c[2]) == (agent, model)]
        for alternative in ALTERNATIVES[model]:
            then = on = 0
            for _, provider, _, tokens_in, tokens_out, read, day, hour in calls:
                usage = Usage(input_tokens=tokens_in, output_tokens=tokens_out, cache_read_tokens=read)
                then += pico(provider, model, usage, at(day, hour))
                on += pico(provider, alternative, usage, at(day, hour))
            options.append((then - on, agent, model, f"{calls[0][1]}/{alternative}", len(calls), then, on))
    best = max(options)
    return best[1:]


async def test_the_advice_is_the_chats_savings_and_cheapest_alternative_with_whatifs_figures(server, base, client):
    token = await token_for(server, KITCHEN)
    status, view, _ = await get(client, f"{base}/dashboard/api/view?period={APRIL}", token)
    assert status == 200

    cost, saved, hit_rate = expected_savings()
    caching = (f"Prompt caching saved this room {human_usd(saved)} in {LABEL}: its calls cost {human_usd(cost)},"
               f" without caching {human_usd(cost + saved)}; cache hit rate {hit_rate * 100:.1f}%.")
    agent, model, alternative, calls, then, on = expected_suggestion()
    cheaper = (f"Agent {agent}'s {exact_int(calls)} calls on {model} in {LABEL} cost {human_usd(then)}; on"
               f" {alternative} they would have cost {human_usd(on)} ({change_text(then, on)},"
               f" {human_usd(then - on)} less).")
    assert view["advice"] == [{"title": "Caching", "text": caching}, {"title": "Cheaper model", "text": cheaper}]

    async with client.get(f"{base}/v1/savings", params={"room": KITCHEN, "period": APRIL},
                          headers=bearer("admin")) as r:  # fmt: skip
        http_savings = (await r.json())["totals"]
    assert (http_savings["cost_pusd"], http_savings["saved_pusd"]) == (cost, saved)
    assert http_savings["hit_rate"] == float(hit_rate)
    async with client.get(f"{base}/v1/whatif", params={"room": KITCHEN, "period": APRIL, "model": alternative},
                          headers=bearer("admin")) as r:  # fmt: skip
        rows = {row["agent"]: row for row in (await r.json())["rows"]}
    assert (rows[agent]["calls"], rows[agent]["cost_pusd"], rows[agent]["whatif_cost_pusd"]) == (calls, then, on)

    status, empty, _ = await get(client, f"{base}/dashboard/api/view?period=2026-05-01..2026-05-31", token)
    assert (status, empty["advice"]) == (200, [])


async def test_the_quotas_are_the_chats_with_runway_and_kind(recorded):
    """An hourly hard quota set in the room and the config's monthly default: the cells of `!usage quota`, the
    runway of an hourly quota as a time of day ("runs out about 08:58") and the default's kind "soft, default".

    The hour's call (08:17:41) used 51,600 tokens in the 50 minutes gone: 60,000 at that pace after 58 min 8 s."""
    store = await open_store(recorded)
    try:
        await store.set_quota(QuotaRow(KITCHEN, "room", "", "hourly", "tokens", "60000", True, False), "@ann:x")
        settings = QuotaSettings(defaults=[QuotaSpec(scope="room", window="monthly", limit="2m")])
        now = datetime(2026, 4, 21, 8, 50, tzinfo=BERLIN)  # 50 minutes after the 08:00 hour began; 08:17:41 a call
        request = ViewRequest(store, settings, BERLIN, (KITCHEN,), now.astimezone(UTC), Pricer(), Alternatives())
        view = await dashboard_view(request, parse_period(APRIL, BERLIN, now), "agent", 600)
        chat = quota_answer(await QuotaBook(store, settings, BERLIN, lambda: now).statuses((KITCHEN,)), now=now)
    finally:
        await store.close()
    quotas = view["quotas"]
    assert quotas["headers"] == ["Budget", "Used", "Limit", "Used %", "Resets", "Kind", "At this pace"]
    hourly = ["this room's hourly token budget", "51.6k", "60k", "86%", "09:00", "hard", "runs out about 08:58"]
    monthly = ["this room's monthly token budget", "126k", "2M", "6%", "1 May", "soft, default", "lasts the window"]
    assert sorted(quotas["rows"]) == sorted([hourly, monthly])
    for row in quotas["rows"]:
        assert any(all(cell in line for cell in row) for line in chat.plain.splitlines()), (row, chat.plain)
