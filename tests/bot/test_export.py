"""`!usage export`: one CSV row per event of this room and period, exact costs, a totals row."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.bot.commands import COMMANDS as registry
from matrix_usage_bot.bot.commands.dispatch import Dispatcher
from matrix_usage_bot.bot.commands.files import too_large_answer
from matrix_usage_bot.bot.commands.request import Services
from matrix_usage_bot.bot.render.export import EXPORT_FIELDS, ExportTooLarge, events_csv, export_filename
from matrix_usage_bot.bot.render.report_formats import ROW_FIELDS
from matrix_usage_bot.tracking.periods import parse_period
from matrix_usage_bot.tracking.store import Filters, open_store

TZ = ZoneInfo("Europe/Berlin")
ROOM, OLD_ROOM, OTHER = "!export:example.org", "!before-upgrade:example.org", "!other:example.org"
MARCH = datetime(2025, 3, 10, 12, tzinfo=UTC).timestamp()


@pytest.fixture
async def store(db_url):
    with tracking.Tracker(db_url) as tracker:
        record = tracker.record
        record(provider="openai", model="gpt-4o", input_tokens=1200, output_tokens=300, cache_read_tokens=200,
               room_id=ROOM, agent="=HYPERLINK(\"x\")", user_id="@alice:example.org", thread_id="$t",
               ts=MARCH, event_id="e1")  # fmt: skip
        record(provider="ollama", model="nobody-prices-me", input_tokens=50, output_tokens=5, room_id=ROOM,
               agent="local", status="error", ts=MARCH + 60, event_id="e2")  # fmt: skip
        record(provider="openai", model="gpt-4o-mini", input_tokens=10_000, output_tokens=2_000,
               room_id=OLD_ROOM, agent="coder", ts=MARCH - 86400, event_id="e3")  # fmt: skip
        record(provider="openai", model="gpt-4o", input_tokens=987_654, output_tokens=1, room_id=OTHER,
               agent="secret", ts=MARCH, event_id="e4")  # fmt: skip
        record(provider="openai", model="gpt-4o", input_tokens=7, output_tokens=7, room_id=ROOM,
               ts=datetime(2025, 4, 1, 0, 30, tzinfo=TZ).timestamp(), event_id="april")  # fmt: skip
    store = await open_store(db_url)
    yield store
    await store.close()


def parse(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


async def test_columns_rows_and_totals(store):
    period = parse_period("2025-03", TZ)
    rows = store.iter_events(period.start_ms, period.end_ms, Filters(room_id=(ROOM, OLD_ROOM)))
    result = await events_csv(rows, TZ)
    table = parse(result.data)
    assert tuple(table[0]) == EXPORT_FIELDS and set(ROW_FIELDS) - {"key"} <= set(EXPORT_FIELDS)
    assert [r["event_id"] for r in table] == ["e3", "e1", "e2", "TOTAL"]
    e1, e2, total = table[1], table[2], table[3]
    assert e1["ts"] == "2025-03-10T13:00:00.000+01:00" and e1["room_id"] == ROOM and e1["thread_id"] == "$t"
    assert e1["agent"] == "'=HYPERLINK(\"x\")" and e1["user_id"] == "@alice:example.org"
    assert (e1["input_tokens"], e1["output_tokens"], e1["total_tokens"], e1["cache_read_tokens"]) == (
        "1200", "300", "1500", "200")  # fmt: skip
    assert e1["cost_usd"] == "0.00575" and e1["unpriced_calls"] == "0" and e1["calls"] == "1"
    # gpt-4o at $2.50 / $1.25 cached per million input, $10 per million output: 1000 * 2.5 + 200 * 1.25 = 2750 µUSD
    assert (e1["input_cost_usd"], e1["output_cost_usd"]) == ("0.00275", "0.003")
    assert e2["cost_usd"] == "unpriced" and e2["unpriced_calls"] == "1" and e2["status"] == "error"
    assert (e2["input_cost_usd"], e2["output_cost_usd"], e2["error_calls"]) == ("unpriced", "unpriced", "1")
    assert total["calls"] == "3" and total["total_tokens"] == str(1500 + 55 + 12_000)
    assert Decimal(total["cost_usd"]) == Decimal("0.00575") + Decimal("0.0027") and total["unpriced_calls"] == "1"
    # gpt-4o-mini: 10,000 * $0.15 / M in, 2,000 * $0.60 / M out
    assert (Decimal(total["input_cost_usd"]), Decimal(total["output_cost_usd"])) == (
        Decimal("0.00275") + Decimal("0.0015"), Decimal("0.003") + Decimal("0.0012"))  # fmt: skip
    assert result.events == 3 and b"secret" not in result.data and b"april" not in result.data


async def test_too_large_is_refused_before_it_is_built(store):
    period = parse_period("all", TZ)
    with pytest.raises(ExportTooLarge):
        await events_csv(store.iter_events(period.start_ms, period.end_ms, Filters()), TZ, max_bytes=200)
    answer = too_large_answer("!usage export all", "usage-x.csv", 61_200_000, 50_000_000)
    assert answer.plain == ("⚠️ usage-x.csv would be 61.2 MB, more than this homeserver accepts (50.0 MB). "
                            "Ask for a shorter period, e.g. !usage export 7d")  # fmt: skip


def test_filename_names_the_period():
    assert export_filename(parse_period("2025-03", TZ)) == "usage-2025-03-01_2025-03-31.csv"
    assert export_filename(parse_period("2025-03-02", TZ)) == "usage-2025-03-02.csv"


@pytest.fixture
async def dispatcher(store):
    lineage = {ROOM: (ROOM, OLD_ROOM)}
    services = Services(store, TZ, lambda room: lineage.get(room, (room,)), lambda room: None, list)

    async def no(room_id: str, user_id: str) -> bool:
        return False

    return Dispatcher(registry, services, is_room_admin=no, is_bot_admin=lambda u: False)


async def ask(dispatcher, body, room=ROOM):
    return await dispatcher.answer(room_id=room, sender="@a:x", body=body, thread_root=None, is_direct=False)


async def test_the_command_exports_this_room_and_its_predecessors_only(dispatcher):
    answer = await ask(dispatcher, f"!usage export 2025-03 {OTHER}")
    assert answer.attachment is None and "Usage: !usage export [P]" in answer.plain  # no room argument
    answer = await ask(dispatcher, "!usage export 2025-03")
    file = answer.attachment
    assert file is not None and file.msgtype == "m.file" and file.mimetype == "text/csv"
    assert file.filename == "usage-2025-03-01_2025-03-31.csv" and file.info == {"mimetype": "text/csv",
                                                                                  "size": len(file.data)}
    assert [r["event_id"] for r in parse(file.data)] == ["e3", "e1", "e2", "TOTAL"]
    assert "3 rows" in answer.plain and "secret" not in answer.plain
    other = await ask(dispatcher, "!usage export 2025-03", room=OTHER)
    assert [r["event_id"] for r in parse(other.attachment.data)] == ["e4", "TOTAL"]
    empty = await ask(dispatcher, "!usage export 2024-01")
    assert empty.attachment is None and empty.plain == "No usage in this room, January 2024: nothing to export."


async def test_events_removed_by_retention_are_explained(dispatcher, store):
    await store.delete_events_before(int(MARCH * 1000))
    answer = await ask(dispatcher, "!usage export 2025-03")
    assert [r["event_id"] for r in parse(answer.attachment.data)] == ["e1", "e2", "TOTAL"]
    assert "1 older calls are counted" in answer.plain
