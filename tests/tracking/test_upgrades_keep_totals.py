"""Upgrading a store of any released version keeps every total.

A store is built at an old version and given events with the rollups its writer kept (each rollup a GROUP BY
over the events, as that version's code summed them); retention then deletes the oldest day's events, whose
totals live on in the rollups only. After the upgrade, every report over whole hours (any breakdown, in UTC and
in Berlin) equals the same report summed here from all the events. What a version never kept stays unknown, as
it was: operations before version 8 come from the events still there when version 8 arrived, latency histograms
start with version 8, sources with version 9."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from matrix_usage_bot.tracking.fields import SUM_NAMES
from matrix_usage_bot.tracking.latency import bucket, percentile
from matrix_usage_bot.tracking.periods import Period, parse_period, zone
from matrix_usage_bot.tracking.queries import GROUPS, latency_by_model, usage_report
from matrix_usage_bot.tracking.store import is_postgres, open_store
from tests.dbrows import rows
from tests.oldstores import build, execute

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
H0 = int(DAY0.timestamp()) // 3600
LATENCIES = (95.5, 420.0, 1730.25)
BASE = ("event_id", "ts_ms", "hour", "room_id", "thread_id", "agent", "user_id", "operation", "provider", "model",
        "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "cost_pusd",
        "latency_ms", "status")  # fmt: skip
ADDED = {4: ("cache_write_1h_tokens",), 8: ("input_audio_tokens", "output_audio_tokens", "input_image_tokens",
         "output_image_tokens", "web_searches", "usage_source", "input_cost_pusd", "output_cost_pusd"),
         9: ("source",)}  # fmt: skip


def columns(version: int) -> tuple[str, ...]:
    return BASE + tuple(c for v, added in ADDED.items() if v <= version for c in added)


def events() -> list[dict]:
    out = []
    for n in range(150):
        hour = H0 + (n * 7) % 70  # three UTC days
        priced = n % 5 != 0
        cost = 1_000_003 * (n + 1) if priced else None
        out.append({
            "event_id": f"$ev{n}", "ts_ms": hour * 3_600_000 + (n * 611_111) % 3_600_000, "hour": hour,
            "room_id": f"!r{n % 3}:x", "thread_id": ("", "$t1", "$t2")[n % 3 == 0 and n % 2], "agent": f"a{n % 4}",
            "user_id": f"@u{n % 2}:x", "operation": ("chat", "embedding")[n % 6 == 0], "provider": "openai",
            "model": ("gpt-4o", "gpt-4o-mini")[n % 2], "input_tokens": 1000 + n, "output_tokens": 10 * n,
            "cache_read_tokens": n % 7, "cache_write_tokens": n % 5, "reasoning_tokens": n % 3, "cost_pusd": cost,
            "latency_ms": LATENCIES[n % 3] if n % 11 else None, "status": ("ok", "error")[n % 9 == 0],
            "cache_write_1h_tokens": n % 2, "input_audio_tokens": n % 4, "output_audio_tokens": 0,
            "input_image_tokens": n % 6, "output_image_tokens": 0, "web_searches": n % 2,
            "usage_source": ("provider", "estimated")[n % 8 == 0], "input_cost_pusd": cost and cost - n,
            "output_cost_pusd": cost and n, "source": ("tracker", "ingest", "key-1")[n % 3],
        })  # fmt: skip
    return out


def _over_events(name: str, present: set[str]) -> str:
    counted = {"calls": "1", "unpriced_calls": "CASE WHEN cost_pusd IS NULL THEN 1 ELSE 0 END",
               "error_calls": "CASE WHEN status = 'error' THEN 1 ELSE 0 END",
               "estimated_calls": "CASE WHEN usage_source = 'estimated' THEN 1 ELSE 0 END"}  # fmt: skip
    if name in counted:
        return f"sum({counted[name]})" if name != "estimated_calls" or "usage_source" in present else "0"
    return f"sum(coalesce({name}, 0))" if name in present else "0"


def fill_rollups(db: str, version: int) -> None:
    """Every rollup of the version as a GROUP BY over the events, as its writer kept them."""
    present = set(columns(version))
    keys = {"hour": "hour", "day": "hour / 24", "slot": "ts_ms / 900000",
            "bucket": "CASE " + " ".join(f"WHEN latency_ms = {ms} THEN {bucket(ms)}" for ms in LATENCIES) + " END"}
    statements = []
    for table in (t for t in _tables(db) if t.startswith("rollup_")):
        key, sums = _key_and_sums(db, table)
        select = ", ".join(keys.get(k, k) for k in key)
        where = " WHERE latency_ms IS NOT NULL" if "bucket" in key else ""
        statements += [f"DELETE FROM {table}", f"INSERT INTO {table} ({', '.join(key)}, {', '.join(sums)})"
                       f" SELECT {select}, {', '.join(_over_events(s, present) for s in sums)} FROM events{where}"
                       f" GROUP BY {select}"]  # fmt: skip
    execute(db, statements)


def _tables(db: str) -> list[str]:
    if is_postgres(db):
        return [r[0] for r in rows(db, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
    return [r[0] for r in rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'")]


def _key_and_sums(db: str, table: str) -> tuple[list[str], list[str]]:
    if is_postgres(db):
        (definition,) = rows(db, f"SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = "
                                 f"'{table}'::regclass AND contype = 'p'")[0]  # fmt: skip
        key = [c.strip() for c in definition.removeprefix("PRIMARY KEY (").removesuffix(")").split(",")]
        names = [r[0] for r in rows(db, f"SELECT column_name FROM information_schema.columns WHERE table_name ="
                                        f" '{table}' ORDER BY ordinal_position")]  # fmt: skip
    else:
        info = rows(db, f"PRAGMA table_info({table})")
        key = [r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])]
        names = [r[1] for r in info]
    return key, [n for n in names if n not in key]


def expected(evs: list[dict], version: int, period: Period, group: str | None, tz_name: str) -> dict:
    present = set(columns(version))
    out: dict = {}
    for e in evs:
        if not period.start_ms <= e["ts_ms"] < period.end_ms:
            continue
        local = datetime.fromtimestamp(e["ts_ms"] / 1000, zone(tz_name))
        key = {None: None, "day": local.strftime("%Y-%m-%d"), "hour": local.strftime("%Y-%m-%d %H:00"),
               "user": e["user_id"], "room": e["room_id"], "thread": e["thread_id"] or None,
               "source": e["source"] if version >= 9 else "unknown"}.get(group, e.get(group))  # fmt: skip
        sums = out.setdefault(key, dict.fromkeys(SUM_NAMES, 0))
        for name in SUM_NAMES:
            value = {"calls": 1, "unpriced_calls": e["cost_pusd"] is None, "error_calls": e["status"] == "error",
                     "estimated_calls": "usage_source" in present and e["usage_source"] == "estimated"}.get(name)
            if value is None:
                value = (e[name] or 0) if name in present else 0
            sums[name] += int(value)
    return out


def reported(report) -> dict:
    return {row.key: {name: getattr(row, name) for name in SUM_NAMES} for row in report.rows}


@pytest.mark.parametrize("version", range(1, 10))
async def test_upgrading_keeps_every_total(empty_store_url: str, version: int):
    store_url = empty_store_url  # built at an old version here
    if is_postgres(store_url) and version < 7:
        pytest.skip("PostgreSQL stores began at version 7")
    evs = events()
    build(store_url, version)
    names = columns(version)
    execute(store_url, [], f"INSERT INTO events ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            [tuple(e[n] for n in names) for e in evs])
    fill_rollups(store_url, version)
    execute(store_url, [f"DELETE FROM events WHERE ts_ms < {(H0 + 24) * 3_600_000}"])  # retention took day one
    kept = [e for e in evs if e["ts_ms"] >= (H0 + 24) * 3_600_000]
    store = await open_store(store_url)
    try:
        for tz_name, text in (("UTC", "2026-03-01"), ("UTC", "2026-03-02..2026-03-03"), ("UTC", "2026-03"),
                              ("Europe/Berlin", "2026-03-02"), ("Europe/Berlin", "2026-03-01..2026-03-03")):
            period = parse_period(text, zone(tz_name))
            for group in (None, *GROUPS):
                report = await usage_report(store, period, group=group, room_id="!r1:x" if group == "operation"
                                            else None)  # fmt: skip
                source = kept if group == "operation" and version < 8 else evs
                want = expected([e for e in source if group != "operation" or e["room_id"] == "!r1:x"], version,
                                period, group, tz_name)  # fmt: skip
                got = reported(report) if group else {None: {n: getattr(report.totals, n) for n in SUM_NAMES}}
                assert got == want, (version, tz_name, text, group)
        whole_days = parse_period("2026-03-01..2026-03-03", zone("UTC"))
        latency = await latency_by_model(store, whole_days)
        if version < 8:  # histograms began with version 8
            assert latency == {}
        else:
            for model in ("gpt-4o", "gpt-4o-mini"):
                counts: dict[int, int] = {}
                for e in evs:
                    if e["model"] == model and e["latency_ms"] is not None:
                        counts[bucket(e["latency_ms"])] = counts.get(bucket(e["latency_ms"]), 0) + 1
                got = latency[model]
                assert (got.calls, got.median_ms, got.p95_ms) == (sum(counts.values()), percentile(counts, 0.5),
                                                                  percentile(counts, 0.95)), model  # fmt: skip
    finally:
        await store.close()
