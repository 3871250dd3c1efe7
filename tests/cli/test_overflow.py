"""Costs whose sums pass 64-bit integers: refused one by one with the reason, never a lost batch or a wrong total."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.pricing import PriceOverride

from .test_cli import run

MAX_CALL = "1000000"  # dollars: the most one call may cost, 1e18 pico-USD


def lines(room: str, count: int, hour: str = "2026-10-05T10") -> list[str]:
    return [
        json.dumps({"provider": "openai", "model": "gpt-4o", "room_id": room, "input_tokens": 1, "output_tokens": 1,
                    "cost_usd": MAX_CALL, "ts": f"{hour}:{n:02d}:00Z", "event_id": f"{room}-{hour}-{n}"})
        for n in range(count)
    ]  # fmt: skip


def test_ingest_refuses_only_the_line_whose_cost_would_overflow_and_reports_stay_exact(tmp_path):
    db = f"sqlite:///{tmp_path / 'u.db'}"
    out = run("ingest", "--db", db, stdin="\n".join(lines("!a:x", 10) + lines("!b:x", 10)))
    assert "Traceback" not in out.stderr
    assert out.returncode == 1  # some lines skipped
    assert out.stdout.strip() == "stored 18, duplicates 0, skipped 2"
    refused = out.stderr.splitlines()
    assert len(refused) == 2 and all("its cost would take a sum past 64-bit integers" in r for r in refused)

    report = run("report", "--db", db, "--period", "all", "--format", "json", "--by", "room")
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    assert Decimal(str(data["totals"]["cost_usd"])) == Decimal(18_000_000)
    assert data["totals"]["calls"] == 18
    assert {r["key"]: (r["calls"], Decimal(str(r["cost_usd"]))) for r in data["rows"]} == {
        "!a:x": (9, Decimal(9_000_000)), "!b:x": (9, Decimal(9_000_000)),
    }  # fmt: skip

    with sqlite3.connect(tmp_path / "u.db") as conn:
        query = ("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'rollup_%'"
                     " AND name != 'rollup_latency_daily'")  # latency buckets count calls, no cost
        tables = [r[0] for r in conn.execute(query)]
        for table in tables:
            kinds = {r[0] for r in conn.execute(f"SELECT DISTINCT typeof(cost_pusd) FROM {table}")}
            assert kinds == {"integer"}, table
        total = sum(r[0] for r in conn.execute("SELECT cost_pusd FROM events"))
        assert total == 18 * 10**18


def test_a_second_run_of_the_same_lines_doubles_nothing(tmp_path):
    db = f"sqlite:///{tmp_path / 'u.db'}"
    run("ingest", "--db", db, stdin="\n".join(lines("!a:x", 10)))
    again = run("ingest", "--db", db, stdin="\n".join(lines("!a:x", 10)))
    assert again.stdout.strip() == "stored 0, duplicates 9, skipped 1"


async def test_tracker_rejects_the_event_at_fault_and_keeps_the_rest(tmp_path):
    db = tmp_path / "u.db"
    overrides = [PriceOverride(match="local/pricey", input=Decimal(10**12), output=Decimal(0))]  # $1M a token
    async with tracking.Tracker(f"sqlite:///{db}", price_overrides=overrides) as tracker:
        for n in range(10):
            tracker.record(provider="local", model="pricey", input_tokens=1, room_id="!a:x", event_id=f"e{n}",
                           ts=1_790_000_000 + n)  # fmt: skip
        tracker.record(provider="local", model="pricey", input_tokens=1, room_id="!b:x", event_id="other",
                       ts=1_790_000_000)  # fmt: skip
        await tracker.flush()
        assert (tracker.stats.stored, tracker.stats.rejected) == (10, 1)
    with sqlite3.connect(db) as conn:
        [(reason,)] = conn.execute("SELECT reason FROM rejected_events").fetchall()
        assert "its cost would take a sum past 64-bit integers" in reason
        assert conn.execute("SELECT sum(cost_pusd / 1000000) FROM rollup_room_daily").fetchone()[0] == 10 * 10**12
