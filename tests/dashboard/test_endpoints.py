"""The dashboard's page and endpoints on a real server: exact figures for the token's room, and nothing else."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser

from genai_prices import Usage, calc_price

from matrix_usage_bot.bot.dashboard.routes import TOKEN_HEADER
from matrix_usage_bot.bot.dashboard.tokens import DashboardTokens
from matrix_usage_bot.bot.state import UPGRADE, UPGRADED_TO
from tests.money import shown_usd

from .conftest import CELLAR, KITCHEN, MARCH, NASTY, RTL, when

MARCH_RANGE = "2026-03-01..2026-03-31"
WEEK = timedelta(days=7)


def price(provider: str, model: str, tokens_in: int, tokens_out: int, day: int, hour: int) -> Decimal:
    usage = Usage(input_tokens=tokens_in, output_tokens=tokens_out)
    return calc_price(usage, model, provider_id=provider, genai_request_timestamp=when(day, hour)).total_price


def expected_agents() -> dict[str, list[str]]:
    """Agent, calls, input, output, total, cost, unpriced, estimated, errors: from MARCH, priced independently."""
    rows: dict[str, list] = {}
    for room, agent, provider, model, tokens_in, tokens_out, day, hour, extra in MARCH:
        if room != KITCHEN:
            continue
        row = rows.setdefault(agent, [0, 0, 0, Decimal(0), 0, 0, 0])
        unpriced = provider == "local"
        row[0] += 1
        row[1] += tokens_in
        row[2] += tokens_out
        row[3] += 0 if unpriced else price(provider, model, tokens_in, tokens_out, day, hour)
        row[4] += unpriced
        row[5] += extra.get("usage_source") == "estimated"
        row[6] += extra.get("status") == "error"
    return {agent: [agent, f"{r[0]:,}", f"{r[1]:,}", f"{r[2]:,}", f"{r[1] + r[2]:,}", shown_usd(r[3]),
                    str(r[4]), str(r[5]), str(r[6])] for agent, r in rows.items()}  # fmt: skip


async def token_for(server, room: str, clock=None, ttl: timedelta = WEEK) -> str:
    return (await DashboardTokens(server.store, clock).issue(room, ttl))[0]


async def get(client, url: str, token: str | None, **headers: str):
    sent = {**headers, **({TOKEN_HEADER: token} if token is not None else {})}
    async with client.get(url, headers=sent) as r:
        return r.status, (await r.json() if r.content_type == "application/json" else await r.text()), r.headers


async def test_page_and_its_files_need_no_token_and_load_nothing_from_elsewhere(base, client):
    status, page, headers = await get(client, f"{base}/dashboard/", None)
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Security-Policy"].startswith("default-src 'none'; script-src 'self'; style-src 'self'")
    assert headers["Referrer-Policy"] == "no-referrer"

    class Refs(HTMLParser):
        found: list[tuple[str, dict]] = []  # noqa: RUF012

        def handle_starttag(self, tag, attrs):
            self.found.append((tag, dict(attrs)))

    refs = Refs()
    refs.feed(page)
    scripts = [a for t, a in refs.found if t == "script"]
    assert scripts == [{"src": "app.js", "defer": None}]  # no inline script
    linked = [a.get("href") or a.get("src") for t, a in refs.found if t in ("link", "script", "img")]
    assert linked == ["data:,", "app.css", "app.js"]
    for asset in ("app.js", "app.css"):
        status, text, _ = await get(client, f"{base}/dashboard/{asset}", None)
        assert status == 200 and not re.search(r"https?://", text.replace("http://www.w3.org/2000/svg", ""))
    async with client.get(f"{base}/dashboard", allow_redirects=False) as r:
        assert (r.status, r.headers["Location"]) == (302, "dashboard/")


async def test_the_view_gives_the_rooms_exact_figures(server, base, client):
    token = await token_for(server, KITCHEN)
    status, view, headers = await get(client, f"{base}/dashboard/api/view?period={MARCH_RANGE}&width=390", token)
    assert status == 200 and headers["Cache-Control"] == "no-store"
    assert view["room"] == KITCHEN and view["timezone"] == "Europe/Berlin"
    period = view["period"]
    assert (period["start"], period["end"]) == ("2026-03-01T00:00:00+01:00", "2026-04-01T00:00:00+02:00")
    tables = {t["id"]: t for t in view["tables"]}
    agents = tables["agent"]
    assert agents["headers"] == ["Agent", "Calls", "Input", "Output", "Total", "Cost", "Unpriced", "Estimated",
                                 "Errors"]  # fmt: skip
    expected = expected_agents()
    assert {row[0]: row for row in agents["rows"][:-1]} == expected
    total = [sum(int(r[i].replace(",", "")) for r in expected.values()) for i in (1, 2, 3, 4)]
    assert agents["rows"][-1][:5] == ["Total", *(f"{n:,}" for n in total)]
    users = {row[0]: row[1] for row in tables["user"]["rows"]}
    assert users == {"(none)": "4", "@dora:example.org": "1", "Total": "5"}
    assert {row[0]: row[1] for row in tables["thread"]["rows"]} == {"(none)": "4", "$plan-thread": "1", "Total": "5"}
    models = {row[0]: row for row in tables["model"]["rows"]}
    assert models["gpt-4o"][1] == "2" and models["gpt-4o"][8] == "1" and models["gpt-4o"][9].endswith("ms")
    assert models["home-brew-7b"][5] == "unpriced"
    tiles = {t["label"]: t["value"] for t in view["tiles"]}
    counts = ("Calls", "Unpriced calls", "Estimated calls", "Error calls")
    assert [tiles[name] for name in counts] == ["5", "1", "1", "1"]
    assert view["chart"]["unit"] == "day" and [s["name"] for s in view["chart"]["legend"]] == [
        row[0] for row in sorted(agents["rows"][:-1], key=lambda r: -Decimal(r[5][1:] if r[5] != "unpriced" else 0))]
    svg = view["chart"]["svg"]
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in svg and NASTY not in svg
    assert 'width="390"' in view["chart"]["svg"]
    quotas = view["quotas"]
    assert [row[0] for row in quotas["rows"]] == ["this room's monthly token budget"]
    assert quotas["note"] == "1 quota applies across all rooms too: ask the bot in a direct chat."
    assert view["export"]["filename"] == "usage-2026-03-01_2026-03-31.csv"
    assert "intruder" not in str(view) and "777,777" not in str(view) and "mallory" not in str(view)


async def test_a_day_is_charted_by_hour(server, base, client):
    token = await token_for(server, KITCHEN)
    status, view, _ = await get(client, f"{base}/dashboard/api/view?period=2026-03-17&by=model", token)
    assert status == 200 and view["chart"]["unit"] == "hour"
    labels = re.findall(r'text-anchor="middle">([^<]+)<', view["chart"]["svg"])
    assert labels[0] == "00:00" and len(view["chart"]["legend"]) == 2  # gpt-4o-mini and home-brew-7b
    assert {s["name"]: s["cost"] for s in view["chart"]["legend"]}["home-brew-7b"] == "unpriced"


async def test_every_other_way_in_is_refused_with_nothing_of_any_room(server, base, client):
    view = f"{base}/dashboard/api/view?period={MARCH_RANGE}"
    kitchen = await token_for(server, KITCHEN)
    expired = await token_for(server, KITCHEN, clock=lambda: datetime.now(UTC) - WEEK - timedelta(seconds=5))
    cases = [
        (None, {}, 401, "no dashboard token"),
        ("", {}, 401, "no dashboard token"),
        (kitchen[:-3] + "xyz", {}, 401, "not valid"),
        (kitchen.replace("d1.", "d2.", 1), {}, 401, "not valid"),
        (expired, {}, 403, "has expired"),
        (None, {"Authorization": "Bearer admin-key-0123456789abcdef"}, 401, "no dashboard token"),
    ]
    for token, headers, status, words in cases:
        got, body, _ = await get(client, view, token, **headers)
        assert (got, set(body)) == (status, {"error"}) and words in body["error"], (token, body)
    tries = (f"room={CELLAR}", f"period={CELLAR}", f"by={CELLAR}", "by=room", f"width={CELLAR}",
             "period=month&period=today", f"period={MARCH_RANGE}&room_id={CELLAR}", f"token={kitchen}")  # fmt: skip
    for query in tries:
        got, body, _ = await get(client, f"{base}/dashboard/api/view?{query}", kitchen)
        assert got == 400 and set(body) == {"error"} and CELLAR not in body["error"], (query, body)
    for period, status in (("all", 400), ("2025-03-30..2026-03-31", 400), ("2025-03-31..2026-03-31", 200)):
        got, body, _ = await get(client, f"{base}/dashboard/api/view?period={period}", kitchen)
        assert got == status, (period, body)
    got, body, _ = await get(client, f"{base}/dashboard/api/export.csv?room={CELLAR}", kitchen)
    assert got == 400
    # a dashboard token opens nothing of the HTTP API
    got, body, _ = await get(client, f"{base}/v1/usage?room={KITCHEN}", kitchen)
    assert got == 401
    await DashboardTokens(server.store).revoke(KITCHEN)
    got, body, _ = await get(client, view, kitchen)
    assert (got, body) == (403, {"error": "this dashboard link was revoked: ask !usage dashboard for a new one"})


async def test_the_csv_is_the_rooms_events_of_the_period(server, base, client):
    token = await token_for(server, KITCHEN)
    async with client.get(f"{base}/dashboard/api/export.csv?period={MARCH_RANGE}", headers={TOKEN_HEADER: token}) as r:
        assert r.status == 200 and r.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert r.headers["Content-Disposition"] == 'attachment; filename="usage-2026-03-01_2026-03-31.csv"'
        lines = (await r.text()).splitlines()
    assert lines[0].startswith("event_id,ts,room_id,thread_id,agent,user_id,")
    assert len(lines) == 1 + 5 + 1 and lines[-1].startswith("TOTAL,") and "intruder" not in "".join(lines)
    assert sum(KITCHEN in line for line in lines) == 5


async def test_an_upgraded_room_shows_the_rooms_it_replaced(server, base, client):
    new_kitchen = "!kitchen-v2:example.org"
    await server.store.set_room_value(KITCHEN, UPGRADED_TO, new_kitchen)  # as the bot notes a verified upgrade
    await server.store.claim(UPGRADE, KITCHEN, KITCHEN)
    token = await token_for(server, new_kitchen)
    status, view, _ = await get(client, f"{base}/dashboard/api/view?period={MARCH_RANGE}", token)
    assert status == 200 and view["room"] == new_kitchen
    assert {t["label"]: t["value"] for t in view["tiles"]}["Calls"] == "5" and RTL in str(view["tables"])
