"""The room dashboard in a real browser against a real bot on the real Synapse: the page shows what
`usage-bot report` says for the same period, escapes every name, downloads the CSV of `!usage export`,
requests nothing from anywhere but the bot, and reads well at desktop and phone widths."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from nio import MemoryDownloadResponse

from matrix_usage_bot.bot.render.numbers import human_usd
from matrix_usage_bot.tracking.pricing import usd_to_pico
from tests.usagebot import usage_bot

from ...money import shown_usd
from .browser import free_port, not_blank, open_page
from .conftest import BOTH_BACKENDS, record
from .test_quotas_e2e import ask

pytestmark = pytest.mark.synapse
expect = pytest.importorskip("playwright.async_api", reason="the dev extra installs playwright").expect

NASTY = '<script>alert("gotcha")</script>'
RTL = "סוכן \"מחקר\" & co"
MARCH = "2025-03-01..2025-03-31"
DOCS = Path(__file__).parents[3] / "docs"
CALLS = [  # agent, model, provider, input, output, day of March 2025, extra
    ("researcher", "gpt-4o", "openai", 18_000, 1_200, 3, {"latency_ms": 820, "user_id": "@dora:localhost"}),
    ("researcher", "gpt-4o", "openai", 9_500, 700, 4, {"latency_ms": 1300, "thread_id": "$deep-dive"}),
    ("summarizer", "gpt-4o-mini", "openai", 42_000, 2_500, 4, {"latency_ms": 400}),
    ("summarizer", "gpt-4o-mini", "openai", 38_000, 2_100, 11, {"status": "error", "latency_ms": 150}),
    (NASTY, "claude-sonnet-4-5", "anthropic", 7_000, 900, 12, {"cache_read_tokens": 3_000}),
    (RTL, "home-brew-7b", "local", 2_000, 300, 12, {"usage_source": "estimated"}),
    ("helpdesk", "gpt-4o-mini", "openai", 6_000, 450, 20, {"user_id": "@erin:localhost", "thread_id": "$deep-dive"}),
    ("researcher", "gpt-4o", "openai", 11_000, 950, 28, {"latency_ms": 990}),
]  # fmt: skip


def dashboard_sections(port: int, **dashboard: object) -> dict:
    return {"http": {"enabled": True, "listen": f"127.0.0.1:{port}", "public_url": f"http://127.0.0.1:{port}"},
            "dashboard": dashboard}  # fmt: skip


async def report_rows(db_url: str, room: str, by: str) -> dict[str, list[str]]:
    """`usage-bot report --format csv` for the room and period, by key (the page's "(none)" for no key)."""
    done = await asyncio.to_thread(usage_bot, "report", "--db", db_url, "--room", room, "--period", MARCH, "--by",
                                   by, "--format", "csv", "--tz", "Europe/Berlin")  # fmt: skip
    assert done.returncode == 0, done.stderr
    return {row["key"] or "(none)": row for row in csv.DictReader(io.StringIO(done.stdout))}


def same_numbers(cells: list[str], row: dict[str, str]) -> bool:
    """A page row (name, calls, input, output, total, cost, unpriced, estimated, errors) against a report row."""
    counts = [int(c.replace(",", "")) for c in cells[1:5] + cells[6:9]]
    expected = [int(row[k]) for k in ("calls", "input_tokens", "output_tokens", "total_tokens", "unpriced_calls",
                                      "estimated_calls", "error_calls")]  # fmt: skip
    cost = cells[5] == row["cost_usd"] == "unpriced" or cells[5] == shown_usd(Decimal(row["cost_usd"]))
    return counts == expected and cost


async def show_march(opened) -> None:
    page = opened.page
    await page.check('input[name="period"][value="custom"]')
    await page.fill("#from", "2025-03-01")
    await page.fill("#to", "2025-03-31")
    await page.click('#custom button[type="submit"]')
    await expect(page.locator("#period-label")).to_have_text("2025-03-01 to 2025-03-31")


@BOTH_BACKENDS
async def test_the_page_shows_the_room_as_the_report_does(make_user, make_usage_bot, agents, db_url, browser,
                                                          tmp_path):  # fmt: skip
    port = free_port()
    alice = await make_user("alice")
    quota = {"defaults": [{"scope": "room", "window": "monthly", "limit": "200k"}]}
    bot = await make_usage_bot(quotas=quota, **dashboard_sections(port))
    room = await alice.room_with(bot)
    elsewhere = await alice.room_with(bot)
    for agent, model, provider, tokens_in, tokens_out, day, extra in CALLS:
        ts = datetime(2025, 3, day, 10, 30, tzinfo=UTC).timestamp()
        record(agents, room, agent=agent, model=model, provider=provider, input_tokens=tokens_in,
               output_tokens=tokens_out, ts=ts, **extra)  # fmt: skip
    record(agents, room, agent="researcher", input_tokens=1_234, output_tokens=56)  # now: today's only call
    intruder_day = datetime(2025, 3, 12, tzinfo=UTC).timestamp()
    record(agents, elsewhere, agent="intruder", input_tokens=999_999, output_tokens=1, ts=intruder_day)
    await agents.flush()

    root = await alice.say(room, "How are we doing?")
    command = await alice.say(room, "!usage dashboard", thread_root=root)
    answer = await alice.wait_reply(room, command, bot.user_id)
    content = answer.source["content"]
    assert content["msgtype"] == "m.notice" and content["m.relates_to"]["event_id"] == root
    link = re.search(r"http://127\.0\.0\.1:\d+/dashboard/#token=[\w.-]+", content["body"])
    assert link and link[0] in content["formatted_body"] and "It works until " in content["body"]

    base = f"http://127.0.0.1:{port}/"
    opened = await open_page(browser, link[0], fake_clock=True, accept_downloads=True)
    await show_march(opened)
    for by, table in (("agent", "table-agent"), ("model", "table-model"), ("user", "table-user"),
                      ("thread", "table-thread")):  # fmt: skip
        report = await report_rows(db_url, room, by)
        cells = await opened.cells(table)
        assert [c[0] for c in cells[:-1]] == list(report) and cells[-1][0] == "Total"
        for row in cells[:-1]:
            assert same_numbers(row, report[row[0]]), (by, row, report[row[0]])
    agents_table = [c[0] for c in await opened.cells("table-agent")]
    assert NASTY in agents_table and RTL in agents_table  # as text, exactly
    assert await opened.page.evaluate("document.scripts.length") == 1 and not opened.dialogs and not opened.errors
    tiles = await opened.tiles()
    counts = ("Calls", "Unpriced calls", "Estimated calls", "Error calls")
    assert [tiles[name] for name in counts] == ["8", "1", "1", "1"]
    quota = (await opened.cells("table-quotas"))[0]  # this month's: today's 1,290 tokens of 200k
    assert quota[:4] == ["this room's monthly token budget", "1.3k", "200k", "0%"]
    assert quota[5] == "soft, default"  # as !usage quota says: the config's default quota
    assert re.fullmatch(r"lasts the window|runs out about \d+ \w+ \d\d:\d\d", quota[6])  # early in a month it may not
    await same_advice_as_the_chat(opened, alice, bot, room)

    async with opened.page.expect_download() as download_info:
        await opened.page.click("#download")
    downloaded = Path(await (await download_info.value).path()).read_bytes()
    exported = (await ask(alice, bot, room, f"!usage export {MARCH}")).source["content"]
    file = await alice.client.download(mxc=exported["url"])
    assert isinstance(file, MemoryDownloadResponse) and downloaded == file.body
    assert (await download_info.value).suggested_filename == "usage-2025-03-01_2025-03-31.csv"

    page = opened.page
    await page.focus('input[name="period"][value="week"]')  # from the keyboard: arrows move through the periods
    await page.keyboard.press("ArrowLeft")
    await expect(page.locator("#period-label")).to_have_text("today")
    assert (await opened.tiles())["Calls"] == "1" and "per hour" in await page.text_content("#chart-caption")
    record(agents, room, agent="researcher", input_tokens=4_321, output_tokens=10)
    await agents.flush()
    await page.clock.run_for(61_000)  # the page refreshes itself every minute while it is open
    await expect(page.locator("#tiles .tile dd").first).to_have_text("2")
    await screenshots(browser, link[0], opened, tmp_path)
    assert opened.requests and all(url.startswith(base) for url in opened.requests), opened.requests
    text = await opened.page.text_content("body")
    assert "intruder" not in text and "999,999" not in text


async def same_advice_as_the_chat(opened, alice, bot, room) -> None:
    """The page's advice for March: the headline of `!usage savings`, and the cheaper model with the figures
    `!usage whatif` gives for that agent (who used that model only), as the chat rounds them."""
    items = await opened.page.locator("#advice li").all_text_contents()
    savings = (await ask(alice, bot, room, f"!usage savings {MARCH}")).source["content"]["body"]
    assert len(items) == 2 and items[0] == f"Caching {savings.splitlines()[0]}"
    found = re.fullmatch(r"Cheaper model Agent (\S+)'s (\d+) calls on (\S+) in .+ cost (\$[\d.,]+); on (\S+) they would"
                         r" have cost (\$[\d.,]+) \(-[\d.]+%, \$[\d.,]+ less\)\.", items[1])  # fmt: skip
    assert found, items[1]
    agent, calls, model, then, alternative, on = found.groups()
    assert {(c[0], c[1]) for c in CALLS if c[0] == agent} == {(agent, model)}
    whatif = (await ask(alice, bot, room, f"!usage whatif {alternative} {MARCH}")).source["content"]["body"]
    row = next(line.split() for line in whatif.splitlines() if line.startswith(f"{agent} "))
    assert row[1] == calls and [human_usd(usd_to_pico(Decimal(cell[1:]))) for cell in row[2:4]] == [then, on]


WIDER_THAN_THE_SCREEN = """[...document.querySelectorAll("body *")]
    .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth)
    .map(e => `${e.tagName}#${e.id}.${e.className} right=${e.getBoundingClientRect().right}`).slice(0, 12)"""
"""The elements that reach past the screen's right edge: what the failure names."""


async def screenshots(browser, link: str, desktop, tmp_path: Path) -> None:
    """Desktop (1280) and phone (390) shots of March, checked for content; written to docs/ with
    USAGE_DOCS_SCREENSHOTS=1 (how the README's pictures are made)."""
    await show_march(desktop)
    phone = await open_page(browser, link, width=390, scheme="dark")
    await show_march(phone)
    for name, opened in (("desktop", desktop), ("phone", phone)):
        png = await opened.page.screenshot(full_page=True)
        (tmp_path / f"dashboard-{name}.png").write_bytes(png)
        if os.environ.get("USAGE_DOCS_SCREENSHOTS") == "1":
            (DOCS / f"dashboard-{name}.png").write_bytes(png)
        spread, colours = not_blank(png)
        assert spread > 10 and colours > 200, (name, spread, colours)
        assert await opened.page.text_content("h1") == "Usage in this room"
        assert len(await opened.tiles()) == 8 and len(await opened.cells("table-agent")) == 6
        assert await opened.page.locator("#chart svg rect").count() >= 8
        assert await opened.page.is_visible("#table-agent") and await opened.page.is_visible("#download")
    width = await phone.page.evaluate("document.documentElement.scrollWidth")
    wide = await phone.page.evaluate(WIDER_THAN_THE_SCREEN)
    assert width <= 390, wide  # nothing wider than the phone: tables scroll inside their own box
    assert all(url.startswith(link.split("/dashboard/")[0]) for url in phone.requests)
