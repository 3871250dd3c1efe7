"""Unpriced is never shown as $0 (docs/events.md): in every table, line, chart caption, digest, quota table and
CSV, a group whose calls are all unpriced shows its cost as "unpriced"; a group with some unpriced calls says
how many. Real SQLite store, real queries, the renderers and the CLI as users run them."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.bot.chart_data import chart_data
from matrix_usage_bot.bot.commands import COMMANDS as registry
from matrix_usage_bot.bot.commands.dispatch import Dispatcher
from matrix_usage_bot.bot.commands.request import Services
from matrix_usage_bot.bot.render.chart import chart_summary
from matrix_usage_bot.bot.render.digest import DigestData, digest_answer
from matrix_usage_bot.bot.render.export import events_csv
from matrix_usage_bot.bot.render.quotas import quota_answer
from matrix_usage_bot.tracking.amounts import Amount
from matrix_usage_bot.tracking.periods import parse_period
from matrix_usage_bot.tracking.queries import usage_report
from matrix_usage_bot.tracking.quotas import Quota
from matrix_usage_bot.tracking.quotas.book import quota_status
from matrix_usage_bot.tracking.store import Filters, open_store
from tests.usagebot import usage_bot

UTC_ZONE = ZoneInfo("UTC")
MIXED, LOCAL = "!mixed:example.org", "!local:example.org"  # some calls unpriced; every call unpriced
DAY = datetime(2026, 3, 4, 10, tzinfo=UTC)


@pytest.fixture
async def store(db_url):
    async with tracking.Tracker(db_url) as tracker:
        record = tracker.record
        for minute in range(3):  # a model no price knows, and no override
            record(provider="ollama", model="qwen-homebrew", input_tokens=900, output_tokens=80, room_id=LOCAL,
                   agent="local", ts=DAY.replace(minute=minute))  # fmt: skip
        record(provider="ollama", model="qwen-homebrew", input_tokens=400, output_tokens=40, room_id=MIXED,
               agent="tinkerer", ts=DAY)  # fmt: skip
        record(provider="openai", model="gpt-4o", input_tokens=1000, output_tokens=100, room_id=MIXED,
               agent="tinkerer", ts=DAY)  # fmt: skip
        record(provider="openai", model="gpt-4o", input_tokens=2000, output_tokens=100, room_id=MIXED,
               agent="careful", ts=DAY)  # fmt: skip
    opened = await open_store(db_url)
    yield opened
    await opened.close()


def rows_of(plain: str) -> dict[str, list[str]]:
    """A plain table's rows by their first cell (the cells are separated by two spaces or more)."""
    import re

    return {cells[0]: cells for line in plain.splitlines() if len(cells := re.split(r"\s{2,}", line.strip())) > 3}


async def test_chat_tables_and_lines(store):
    services = Services(store, UTC_ZONE, lambda room: (room,), lambda room: None, list)
    dispatcher = Dispatcher(registry, services, is_room_admin=lambda r, u: False, is_bot_admin=lambda u: False)

    async def ask(body: str, room: str):
        return await dispatcher.answer(room_id=room, sender="@a:example.org", body=body, thread_root=None,
                                       is_direct=False)  # fmt: skip

    agents = await ask("!usage agents 2026-03-04", MIXED)
    table = rows_of(agents.plain)
    # gpt-4o: 1000 in, 100 out: $0.0025 + $0.001; the unpriced call of tinkerer is counted in its column
    assert table["tinkerer"][5:7] == ["$0.0035", "1"] and table["careful"][5:7] == ["$0.006", "0"]
    local = await ask("!usage agents 2026-03-04", LOCAL)
    assert rows_of(local.plain)["local"][5:7] == ["unpriced", "3"]
    assert "<td align=\"right\">unpriced</td>" in local.html
    summary = await ask("!usage 2026-03-04", LOCAL)
    assert "3 calls · 2.9k tokens (2.7k in, 240 out) · unpriced" in summary.plain
    assert "$0" not in local.plain + local.html + summary.plain + summary.html
    mixed = await ask("!usage 2026-03-04", MIXED)
    assert "· $0.0095 + 1 unpriced call" in mixed.plain


async def test_digest_chart_and_quota_table(store):
    day = parse_period("2026-03-04", UTC_ZONE)
    reports = [await usage_report(store, day, group=g, room_id=(LOCAL,)) for g in (None, "agent", "model")]
    quota = Quota("room", "daily", Amount("usd", Decimal(5)))
    status = await quota_status(store, quota, [LOCAL], UTC_ZONE, now=DAY)
    digest = digest_answer(DigestData(day.first_day, *reports, 0, 0, [status]))
    chart = chart_summary(await chart_data(store, day, room_id=(LOCAL,)))
    quotas = quota_answer([status])
    assert "unpriced" in digest.plain and "unpriced" in chart[0] and rows_of(quotas.plain)[quota.describe()][1] == (
        "unpriced")  # fmt: skip
    for text in (digest.plain, digest.html, *chart, quotas.plain, quotas.html):
        assert "$0" not in text
    assert "Busiest day 2026-03-04: 2.9k tokens, unpriced." in chart[0]
    assert "this room's daily dollar budget: 0% used (unpriced of $5.00; 3 unpriced calls not counted)" in digest.plain


async def test_export_csv(store):
    day = parse_period("2026-03-04", UTC_ZONE)
    result = await events_csv(store.iter_events(day.start_ms, day.end_ms, Filters(room_id=(LOCAL,))), UTC_ZONE)
    table = list(csv.DictReader(io.StringIO(result.data.decode())))
    assert [(r["cost_usd"], r["input_cost_usd"], r["output_cost_usd"], r["unpriced_calls"]) for r in table] == [
        ("unpriced", "unpriced", "unpriced", "1")] * 3 + [("unpriced", "unpriced", "unpriced", "3")]  # fmt: skip


def cli(db_url: str, fmt: str) -> str:
    args = ["report", "--db", db_url, "--period", "2026-03-04", "--by", "agent", "--format", fmt]
    done = usage_bot(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_cli_table_csv_and_json(store, db_url):
    table = rows_of(cli(db_url, "table"))
    assert table["local"][6:8] == ["unpriced", "3"] and table["tinkerer"][6:8] == ["$0.0035", "1"]
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(cli(db_url, "csv")))}
    assert (rows["local"]["cost_usd"], rows["local"]["unpriced_calls"]) == ("unpriced", "3")
    assert (rows["tinkerer"]["cost_usd"], rows["tinkerer"]["unpriced_calls"]) == ("0.0035", "1")
    # JSON keeps numbers: the priced calls' sum, and how many calls are unpriced (all of them: cost unknown)
    local = next(r for r in json.loads(cli(db_url, "json"))["rows"] if r["key"] == "local")
    assert (local["cost_usd"], local["unpriced_calls"], local["calls"]) == (0.0, 3, 3)
