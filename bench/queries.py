"""Queries at scale: the bot's reports on a database of 10,000,000 events over 400 days (and 1,000,000,
to see how each grows), against the same answers by GROUP BY over the raw events table.

    .venv/bin/python -m bench.queries            # builds .bench/queries-*.db once (minutes), then times
    .venv/bin/python -m bench.queries --quick    # a 200,000-event database in a temp dir; writes nothing
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from matrix_usage_bot.tracking.periods import parse_period, zone
from matrix_usage_bot.tracking.queries import Report, usage_report
from matrix_usage_bot.tracking.store import Store, Sums, open_store

from . import common, data, querydb

TARGET_MS = 10.0
TZ = "Europe/Berlin"  # an hour off UTC: months and days start inside UTC days, as for most users
_RAW_SUMS = (
    "count(*), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens),"
    " sum(reasoning_tokens), sum(coalesce(cost_pusd, 0)), sum(CASE WHEN cost_pusd IS NULL THEN 1 ELSE 0 END),"
    " sum(CASE WHEN status = 'error' THEN 1 ELSE 0 END)"
)  # in the SQL both backends read


def _as_dict(reports: list[Report]) -> list[dict]:
    out = []
    for report in reports:
        rows = {r.key: _tuple(r) for r in report.rows}
        out.append({"totals": _tuple(report.totals), "rows": rows})
    return out


def _tuple(s: Sums) -> tuple:
    return (s.calls, s.input_tokens, s.output_tokens, s.cache_read_tokens, s.cache_write_tokens,
            s.reasoning_tokens, s.cost_pusd, s.unpriced_calls, s.error_calls)  # fmt: skip


async def _raw(store: Store, sql: str, params: list) -> list[tuple]:
    return await store._fetchall(sql, params)


def _raw_report(rows: list[tuple], grouped: bool) -> dict:
    totals = [0] * 9
    by_key = {}
    for row in rows:
        if row[1] is None or row[1] == 0:
            continue
        values = tuple(int(v or 0) for v in row[1:])
        for i, v in enumerate(values):
            totals[i] += v
        if grouped:
            by_key[row[0] if row[0] != "" else None] = values
    return {"totals": tuple(totals), "rows": by_key}


class Case:
    def __init__(self, name: str, ours: Callable[[], Awaitable[list[Report]]],
                 raw: Callable[[], Awaitable[list[dict]]]) -> None:  # fmt: skip
        self.name, self.ours, self.raw = name, ours, raw


def cases(store: Store, room: str, thread: str) -> list[Case]:
    tz = zone(TZ)
    today, month = parse_period("today", tz), parse_period("month", tz)
    rooms = (room,)

    async def summary() -> list[Report]:  # the handler of `!usage`: today, this month, this month by agent
        return [
            await usage_report(store, today, room_id=rooms),
            await usage_report(store, month, room_id=rooms),
            await usage_report(store, month, group="agent", room_id=rooms),
        ]

    async def summary_raw() -> list[dict]:
        sql = f"SELECT NULL, {_RAW_SUMS} FROM events WHERE room_id IN (?) AND ts_ms >= ? AND ts_ms < ?"
        by_agent = (f"SELECT agent, {_RAW_SUMS} FROM events WHERE room_id IN (?) AND ts_ms >= ? AND ts_ms < ?"
                    " GROUP BY agent")  # fmt: skip
        return [
            _raw_report(await _raw(store, sql, [room, today.start_ms, today.end_ms]), False),
            _raw_report(await _raw(store, sql, [room, month.start_ms, month.end_ms]), False),
            _raw_report(await _raw(store, by_agent, [room, month.start_ms, month.end_ms]), True),
        ]

    async def agents() -> list[Report]:
        return [await usage_report(store, month, group="agent", room_id=rooms)]

    async def agents_raw() -> list[dict]:
        sql = (f"SELECT agent, {_RAW_SUMS} FROM events WHERE room_id IN (?) AND ts_ms >= ? AND ts_ms < ?"
               " GROUP BY agent")  # fmt: skip
        return [_raw_report(await _raw(store, sql, [room, month.start_ms, month.end_ms]), True)]

    async def one_thread() -> list[Report]:
        return [await usage_report(store, month, group="agent", room_id=rooms, thread_id=thread)]

    async def one_thread_raw() -> list[dict]:
        sql = (f"SELECT agent, {_RAW_SUMS} FROM events WHERE room_id IN (?) AND thread_id = ? AND ts_ms >= ?"
               " AND ts_ms < ? GROUP BY agent")  # fmt: skip
        return [_raw_report(await _raw(store, sql, [room, thread, month.start_ms, month.end_ms]), True)]

    async def all_rooms() -> list[Report]:
        return [await usage_report(store, month, group="room")]

    async def all_rooms_raw() -> list[dict]:
        sql = f"SELECT room_id, {_RAW_SUMS} FROM events WHERE ts_ms >= ? AND ts_ms < ? GROUP BY room_id"
        return [_raw_report(await _raw(store, sql, [month.start_ms, month.end_ms]), True)]

    return [
        Case("`!usage` in one room (today + month + month by agent)", summary, summary_raw),
        Case("`!usage agents month` (one room by agent)", agents, agents_raw),
        Case("`!usage thread month` (one thread by agent)", one_thread, one_thread_raw),
        Case("`!usage rooms month` (admin: every room)", all_rooms, all_rooms_raw),
    ]


async def _time(fn: Callable[[], Awaitable[object]], reps: int) -> tuple[float, object]:
    result = await fn()  # warm-up (and the answer)
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - started) * 1000)
    return common.median(times), result


async def measure(url: str, reps: int, raw_reps: int) -> dict:
    store = await open_store(url, must_exist=True)
    try:
        w = data.world()
        room = w.rooms[0]  # the busiest room (Zipf head)
        tz = zone(TZ)
        month = parse_period("month", tz)
        found = await _raw(
            store,
            "SELECT thread_id, count(*) c FROM events WHERE room_id = ? AND ts_ms >= ? AND ts_ms < ?"
            " AND thread_id != '' GROUP BY thread_id ORDER BY c DESC, thread_id LIMIT 1",
            [room, month.start_ms, month.end_ms],
        )
        thread = found[0][0] if found else "$none"
        results = {}
        for case in cases(store, room, thread):
            ours_ms, ours = await _time(case.ours, reps)
            raw_ms, raw = await _time(case.raw, raw_reps)
            ok = _as_dict(ours) == raw  # type: ignore[arg-type]
            results[case.name] = {"ours_ms": ours_ms, "raw_ms": raw_ms, "equal": ok,
                                  "calls": sum(r.totals.calls for r in ours)}  # type: ignore[union-attr]  # fmt: skip
        return results
    finally:
        await store.close()


def run(quick: bool = False, doc: Path | None = common.DOC, workdir: Path | None = None,
        pg_events: int = 0, sizes: list[int] | None = None) -> dict:  # fmt: skip
    """SQLite at 1M and 10M events (200,000 when quick; or `sizes`, whose figures then go to the PostgreSQL
    section alone); with pg_events, PostgreSQL at that size too."""
    sqlite_doc = None if sizes else doc
    sizes = sizes or ([200_000] if quick else [1_000_000, 10_000_000])
    workdir = workdir or common.CACHE
    reps, raw_reps = (5, 2) if quick else (50, 5)
    by_size, infos = {}, {}
    for size in sizes:
        path = workdir / f"queries-{size}.db"
        infos[size] = querydb.build(path, size)
        by_size[size] = asyncio.run(measure(f"sqlite:///{path}", reps, raw_reps))
    problems = [f"{name} at {size:,} events: the answer differs from the raw GROUP BY"
                for size, results in by_size.items() for name, r in results.items() if not r["equal"]]  # fmt: skip
    big = sizes[-1]
    rows = []
    for name in by_size[big]:
        r = by_size[big][name]
        row = [name, f"{r['calls']:,}", f"**{r['ours_ms']:.2f}**", f"{r['raw_ms']:.1f}",
               f"{r['raw_ms'] / r['ours_ms']:,.0f}×"]  # fmt: skip
        if len(sizes) > 1:
            small = by_size[sizes[0]][name]
            row.insert(3, f"{small['ours_ms']:.2f} → {r['ours_ms']:.2f} ({r['ours_ms'] / small['ours_ms']:.1f}×)")
            row.insert(5, f"{small['raw_ms']:.1f} → {r['raw_ms']:.1f}")
        row.append(("met" if r["ours_ms"] <= TARGET_MS else "MISSED") + ("" if r["equal"] else "; WRONG ANSWER"))
        rows.append(row)
        print(f"{name}: ours {r['ours_ms']:.2f} ms, raw {r['raw_ms']:.1f} ms, equal={r['equal']}")
    headers = ["report", "calls in answer", f"median ms, {big:,} events"]
    if len(sizes) > 1:
        headers += [f"ours {sizes[0]:,} → {big:,}"]
    headers += ["raw GROUP BY ms"]
    if len(sizes) > 1:
        headers += [f"raw {sizes[0]:,} → {big:,}"]
    headers += ["raw / ours", f"target ≤ {TARGET_MS:.0f} ms"]
    info = infos[big]
    body = common.table(headers, rows) + (
        f"\n\nDatabase: {info['events']:,} events over {info['days']} days (`bench/querydb.py`: the mix of"
        " `bench/data.py`, priced by the writer's row code, inserted with executemany and summed into the rollups"
        f" by the store's own batch aggregation; built in {info['build_seconds']:.0f} s, {info['size_mb']:,} MB,"
        " cached under `.bench/`). Reports are the bot's: `tracking.queries.usage_report` on one store connection,"
        f" timezone {TZ}, the busiest room (about 6% of all events) and its busiest thread this month; median of"
        f" {reps} runs after a warm-up (raw: {raw_reps}). Raw = the same answers by GROUP BY over `events` with its"
        " (room_id, ts_ms) and (ts_ms) indexes; every answer was checked equal to it"
        f" ({'all equal' if not problems else '; '.join(problems)}). Warm page cache; noisy shared machine."
    )
    common.write_section("queries", "Queries at scale", body, None if quick else sqlite_doc)
    report = {"by_size": by_size, "problems": problems}
    if pg_events:
        report["postgresql"] = _postgresql(pg_events, reps, raw_reps, by_size[big], big, problems,
                                           None if quick else doc)  # fmt: skip
    for problem in problems:
        print("PROBLEM:", problem)
    return report


def _sizes_note(events: int, sqlite_events: int, build_seconds: float) -> str:
    if sqlite_events >= 10_000_000:
        return ""
    rate = events / build_seconds
    return (
        f" Both databases hold {events:,} events here, not 10,000,000: at this build rate ({rate:,.0f} events/s"
        " through the store on this shared machine) a 10M-event PostgreSQL database takes about"
        f" {10_000_000 / rate / 60:.0f} minutes; SQLite's 10M figures are in \"Queries at scale\"."
    )


def _postgresql(events: int, reps: int, raw_reps: int, sqlite: dict, sqlite_events: int, problems: list[str],
                doc: Path | None) -> dict:  # fmt: skip
    """The same reports on PostgreSQL (a server of our own, `bench/postgres.py`), beside SQLite's figures."""
    from . import postgres

    with postgres.server() as pg:
        url = pg.new_database()
        info = postgres.build(url, events)
        results = asyncio.run(measure(url, reps, raw_reps))
    problems += [f"PostgreSQL {name}: the answer differs from the raw GROUP BY"
                 for name, r in results.items() if not r["equal"]]  # fmt: skip
    rows = []
    for name, r in results.items():
        print(f"postgresql {name}: ours {r['ours_ms']:.2f} ms, raw {r['raw_ms']:.1f} ms, equal={r['equal']}")
        rows.append([name, f"{sqlite[name]['ours_ms']:.2f}", f"**{r['ours_ms']:.2f}**", f"{r['raw_ms']:.1f}",
                     ("met" if r["ours_ms"] <= TARGET_MS else "MISSED") + ("" if r["equal"] else "; WRONG ANSWER")])
    headers = ["report", f"SQLite ms ({sqlite_events:,} events)", f"PostgreSQL ms ({events:,} events)",
               "PostgreSQL raw GROUP BY ms", f"target ≤ {TARGET_MS:.0f} ms"]  # fmt: skip
    smaller = "" if events >= sqlite_events else (
        f" The PostgreSQL database is smaller than SQLite's ({events:,} events, not {sqlite_events:,}): building it"
        " through the store's own insert path takes longer than this run's budget allows at full size."
    )
    body = common.table(headers, rows) + (
        f"\n\nPostgreSQL 15 (Debian's), a server of the benchmark's own on loopback (fsync and synchronous commit"
        f" on, default memory settings), one psycopg connection; the database holds the same mix over {info['days']}"
        f" days, written through `PostgresStore.insert_batch` in {info['build_seconds']:.0f} s, then ANALYZE. Same"
        f" reports, room and thread choice, median of {reps} runs after a warm-up; every answer checked equal to the"
        " raw GROUP BY." + smaller + _sizes_note(events, sqlite_events, info["build_seconds"])
    )
    common.write_section("queries-postgresql", "Queries: SQLite and PostgreSQL", body, doc)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 200,000-event database in a temp dir; no docs")
    parser.add_argument("--db", choices=("sqlite", "both"), default="sqlite",
                        help="both: also PostgreSQL (a server of the benchmark's own)")  # fmt: skip
    parser.add_argument("--pg-events", type=int, help="events in the PostgreSQL database (default: as SQLite's)")
    parser.add_argument("--sizes", help="SQLite database sizes, e.g. 1000000 (default 1M and 10M); with it, only"
                        " the PostgreSQL section of docs/benchmarks.md is written")  # fmt: skip
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.sizes.split(",")] if args.sizes else None
    pg_events = 0 if args.db == "sqlite" else (args.pg_events or (200_000 if args.quick else 10_000_000))
    if args.quick:
        with tempfile.TemporaryDirectory() as tmp:
            report = run(True, None, Path(tmp), pg_events, sizes)
    else:
        report = run(pg_events=pg_events, sizes=sizes)
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
