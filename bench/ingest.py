"""Ingest: sustained events/s into SQLite through Tracker.record with rollups maintained, until flush()
returns (durable), against the seeds' way (one sqlite3 connection, INSERT + rollup UPDATE + commit per event).

    .venv/bin/python -m bench.ingest            # 1,000,000 events (baseline: 20,000), and the floor
    .venv/bin/python -m bench.ingest --quick    # 20,000 events, writes nothing to docs/
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.fields import COLUMN, SUM_NAMES, SUMS
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.rows import Recorded, recorded_to_row
from matrix_usage_bot.tracking.store.batch import ROLLUP_KEYS, SUM_TABLES

from . import common, data, ingest_stages

DEFAULTS = Recorded._field_defaults  # a missing field takes the record's own default

TARGET_FLOOR_SHARE, TARGET_RATIO = 0.40, 60
"""Targets within one run: the rate as a share of the bare durable table's (the floor), and over commit-per-call."""


def make_calls(n: int, days: float = 10, seed: int = 1) -> list[dict]:
    start, end = data.span_days(days, time.time())
    return list(data.calls(data.world(), n, start, end, seed=seed))


async def ours(path: Path | str, calls: list[dict]) -> dict:
    """Through the tracker into a SQLite file (path) or another store (a URL)."""
    if isinstance(path, Path):
        common.remove_db(path)
    url = f"sqlite:///{path}" if isinstance(path, Path) else path
    # The queue bound (500,000 by default) would make a tight loop of a million calls wait for the writer:
    # lifted to the run's size, the caller's figure is record() alone, and the end-to-end rate is the same.
    async with tracking.Tracker(url, max_pending=len(calls) + 1) as tracker:
        record = tracker.record
        started = time.perf_counter()
        for kw in calls:
            record(**kw)
        recorded = time.perf_counter()
        await tracker.flush()
        durable = time.perf_counter()
        stats = tracker.stats
    n = len(calls)
    return {
        "events": n,
        "seconds": durable - started,
        "rate": n / (durable - started),
        "record_us": (recorded - started) / n * 1e6,
        "stored": stats.stored,
        "rejected": stats.rejected,
        "prepare_s": stats.prepare_seconds,
        "write_s": stats.write_seconds,
    }


def check(path: Path, expected: int) -> list[str]:
    """Every rollup table sums to the raw events; returns the problems found."""
    problems = []
    with sqlite3.connect(path) as conn:
        raw = conn.execute(f"SELECT {', '.join(s.over_events for s in SUMS)} FROM events").fetchone()
        if raw[0] != expected:
            problems.append(f"events holds {raw[0]} rows, expected {expected}")
        for table in SUM_TABLES:
            got = conn.execute(f"SELECT {', '.join(f'sum({c})' for c in SUM_NAMES)} FROM {table}").fetchone()
            if tuple(got) != tuple(raw):
                problems.append(f"{table} sums {got} != raw {raw}")
        if not raw[SUM_NAMES.index("unpriced_calls")]:
            problems.append("no unpriced events: the variety is wrong")
    return problems


BASELINE_COLUMNS = ("event_id", "ts_ms", "hour", "room_id", "thread_id", "agent", "user_id", "provider", "model",
                    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
                    "cost_pusd", "latency_ms", "status")  # fmt: skip


def baseline(path: Path, calls: list[dict]) -> dict:
    """The seeds' way: one connection, per event an INSERT, a rollup UPDATE (or INSERT) and a COMMIT."""
    common.remove_db(path)
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE events (event_id TEXT PRIMARY KEY, ts_ms INTEGER, room_id TEXT, thread_id TEXT, agent TEXT,
            user_id TEXT, provider TEXT, model TEXT, input_tokens INTEGER, output_tokens INTEGER,
            cache_read_tokens INTEGER, cache_write_tokens INTEGER, reasoning_tokens INTEGER, cost_pusd INTEGER,
            latency_ms REAL, status TEXT);
        CREATE TABLE rollup (room_id TEXT, hour INTEGER, agent TEXT, model TEXT, calls INTEGER, tokens INTEGER,
            cost_pusd INTEGER, PRIMARY KEY (room_id, hour, agent, model));
        """
    )
    pricer = Pricer()
    fields = Recorded._fields
    started = time.perf_counter()
    for kw in calls:
        now = time.time()
        given = {"status": kw.get("status", "ok"), "cache_write_1h_tokens": 0}
        rec = Recorded(**{f: kw.get(f, DEFAULTS.get(f)) for f in fields} | given)
        row = recorded_to_row(rec, pricer, now)
        (event_id, ts_ms, hour, room, thread, agent, user, provider, model, inp, out, cr, cw, rt, cost, latency,
         status) = (row[COLUMN[name]] for name in BASELINE_COLUMNS)  # fmt: skip
        conn.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (event_id, ts_ms, room, thread, agent, user, provider, model, inp, out, cr, cw, rt, cost, latency, status),
        )
        cur = conn.execute(
            "UPDATE rollup SET calls = calls + 1, tokens = tokens + ?, cost_pusd = cost_pusd + ?"
            " WHERE room_id = ? AND hour = ? AND agent = ? AND model = ?",
            (inp + out, cost or 0, room, hour, agent, model),
        )
        if cur.rowcount == 0:
            conn.execute("INSERT INTO rollup VALUES (?, ?, ?, ?, 1, ?, ?)", (room, hour, agent, model, inp + out,
                                                                              cost or 0))  # fmt: skip
        conn.commit()
    elapsed = time.perf_counter() - started
    count = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    conn.close()
    return {"events": len(calls), "seconds": elapsed, "rate": len(calls) / elapsed, "stored": count}


def run(quick: bool = False, events: int | None = None, baseline_events: int | None = None,
        workdir: Path | None = None, doc: Path | None = common.DOC, postgresql: bool = False) -> dict:  # fmt: skip
    n = events or (20_000 if quick else 1_000_000)
    nb = baseline_events or (2_000 if quick else 20_000)
    workdir = workdir or common.CACHE
    workdir.mkdir(parents=True, exist_ok=True)
    calls = make_calls(n)
    ours_db, base_db = workdir / "ingest.db", workdir / "ingest-baseline.db"
    result = asyncio.run(ours(ours_db, calls))
    problems = check(ours_db, n)
    base = baseline(base_db, calls[:nb])
    if base["stored"] != nb:
        problems.append(f"baseline stored {base['stored']} of {nb}")
    with sqlite3.connect(ours_db) as conn:
        per_event = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] / n
                     for table in ROLLUP_KEYS}  # fmt: skip
    size_mb = sum(Path(f"{ours_db}{s}").stat().st_size for s in ("", "-wal") if Path(f"{ours_db}{s}").exists()) / 1e6
    ratio = result["rate"] / base["rate"]
    stages = ingest_stages.measure(calls, workdir)
    floor_rate = 1e6 / stages["floor"]
    share = result["rate"] / floor_rate
    report = {"ours": result, "baseline": base, "ratio": ratio, "problems": problems, "db_mb": size_mb,
              "stages": stages, "floor_share": share}  # fmt: skip
    met_share, met_ratio = share >= TARGET_FLOOR_SHARE, ratio >= TARGET_RATIO
    print(
        f"ours:     {result['events']:>9,} events in {result['seconds']:.2f}s = {result['rate']:>9,.0f} events/s"
        f" (record() {result['record_us']:.2f} µs/call); database {size_mb:,.0f} MB"
    )
    print(f"baseline: {base['events']:>9,} events in {base['seconds']:.2f}s = {base['rate']:>9,.0f} events/s")
    print(f"floor:    {floor_rate:>9,.0f} events/s (bare durable table); ours is {share:.0%} of it")
    print(
        f"ratio {ratio:,.1f}x; target >= {TARGET_FLOOR_SHARE:.0%} of floor {'met' if met_share else 'MISSED'},"
        f" >= {TARGET_RATIO}x {'met' if met_ratio else 'MISSED'}"
    )
    print(f"writer busy: preparing {result['prepare_s']:.2f}s, writing {result['write_s']:.2f}s")
    print("steps alone, µs/event: " + ", ".join(f"{name} {us:.2f}" for name, us in stages.items()))
    for problem in problems:
        print("PROBLEM:", problem)
    def verdict(met: bool, value: float, target: float) -> str:
        return "met" if met else f"missed by {(target - value) / target:.0%}"

    body = common.table(
        ["", "events", "seconds", "events/s", "target"],
        [
            ["`Tracker.record` → `flush()` returned (rollups maintained, durable)", f"{n:,}",
             f"{result['seconds']:.2f}", f"**{result['rate']:,.0f}**", ""],
            ["floor: the same rows into a bare table (rowid only), 20,000 per durable commit", f"{n:,}",
             f"{stages['floor'] * n / 1e6:.2f}", f"{floor_rate:,.0f}", ""],
            ["share of the floor", "", "", f"**{share:.0%}**",
             f"≥ {TARGET_FLOOR_SHARE:.0%}: {verdict(met_share, share, TARGET_FLOOR_SHARE)}"],
            ["baseline: one connection, INSERT + rollup UPDATE + COMMIT per event", f"{nb:,}",
             f"{base['seconds']:.2f}", f"{base['rate']:,.0f}", ""],
            ["ratio to the baseline", "", "", f"**{ratio:,.1f}×**",
             f"≥ {TARGET_RATIO}×: {verdict(met_ratio, ratio, TARGET_RATIO)}"],
        ],
    )  # fmt: skip
    body += (
        f"\n\nCaller side: `record()` took {result['record_us']:.2f} µs per call on average (it only appends to a"
        " deque; validation, pricing and writing happen on the writer thread; the queue bound is lifted to the run's"
        " size here, since with the default of 500,000 a tight loop of a million calls waits for the writer, which"
        " is that bound's purpose). Events: the realistic mix of"
        " `bench/data.py` (200 rooms, 50 agents, 30 models of 11 providers incl. unpriced local models, 2,000"
        f" users, threads, timestamps rising over 10 days). Every rollup table was checked to sum to the raw"
        f" events ({'ok' if not problems else '; '.join(problems)}). Database after the run: {size_mb:,.0f} MB."
        " Rollup rows per event stored (each an upsert, in a B-tree and its indexes): "
        + ", ".join(f"`{table}` {share:.3f}" for table, share in per_event.items()) + "."
        " Both sides run in the same process, one after the other; SQLite in WAL mode with synchronous=FULL for"
        " ours, the sqlite3 module's defaults (rollback journal, synchronous=FULL) for the baseline. The"
        " machine is shared with other test runs, so figures vary by about ±15% between runs."
    )
    common.write_section("ingest", "Ingest", body, None if quick else doc)
    end_to_end_us = 1e6 / result["rate"]
    allowed = {f"≥ {TARGET_FLOOR_SHARE:.0%} of the floor's rate": stages["floor"] / TARGET_FLOOR_SHARE,
               f"≥ {TARGET_RATIO}× the baseline's rate": 1e6 / base["rate"] / TARGET_RATIO}  # fmt: skip
    profile = ingest_stages.section(stages, result, end_to_end_us, allowed)
    title = "Ingest: where the time goes" + ("" if met_share and met_ratio else " (why the target is missed)")
    common.write_section("ingest-profile", title, profile, None if quick else doc)
    if postgresql:
        report["postgresql"] = _postgresql(calls, result, problems, None if quick else doc)
    return report


def _postgresql(calls: list[dict], sqlite: dict, problems: list[str], doc: Path | None) -> dict:
    """The same run into PostgreSQL (a durable server of our own, `bench/postgres.py`), beside SQLite's."""
    from tests.dbrows import rollup_mismatches, rows

    from . import postgres

    with postgres.server() as pg:
        url = pg.new_database()
        result = asyncio.run(ours(url, calls))
        ((stored,),) = rows(url, "SELECT count(*) FROM events")
        wrong = {table: n for table, n in rollup_mismatches(url).items() if n}
    if stored != len(calls) or wrong:
        problems.append(f"PostgreSQL holds {stored} events of {len(calls)}; rollup rows off: {wrong}")
    print(f"postgresql: {result['events']:>9,} events in {result['seconds']:.2f}s = {result['rate']:>9,.0f} events/s"
          f" (writer writing {result['write_s']:.2f}s, preparing {result['prepare_s']:.2f}s)")  # fmt: skip
    body = common.table(
        ["backend", "events", "seconds", "events/s", "writer writing, µs/event"],
        [[name, f"{r['events']:,}", f"{r['seconds']:.2f}", f"**{r['rate']:,.0f}**",
          f"{r['write_s'] / r['events'] * 1e6:.2f}"]
         for name, r in (("SQLite (WAL, synchronous=FULL)", sqlite), ("PostgreSQL 15 (fsync on, loopback)", result))],
    )  # fmt: skip
    body += (
        "\n\nThe same calls, one tracker in one process, `record()` in a loop until `flush()` returned. PostgreSQL:"
        " Debian's server on loopback started by the benchmark (durable: fsync and synchronous commit on), one"
        " connection per tracker; a batch's events are copied (COPY, binary) straight into `events`, then each"
        " rollup table's rows copied into a temporary table of their own and added with one upsert (a batch"
        " meeting a stored event would go through a temporary table and `INSERT ... ON CONFLICT DO NOTHING"
        " RETURNING`; none does here). Every rollup row was checked against"
        f" a GROUP BY over the raw events ({problems[-1] if wrong or stored != len(calls) else 'all equal'})."
        " One writer per process: many processes write in parallel (`tests/tracking/test_postgres_writers.py`)."
        " The machine is shared with other work: both figures vary by ±30% between runs."
    )
    common.write_section("ingest-postgresql", "Ingest: SQLite and PostgreSQL", body, doc)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for CI; writes nothing to docs/")
    parser.add_argument("--events", type=int)
    parser.add_argument("--baseline-events", type=int)
    parser.add_argument("--db", choices=("sqlite", "both"), default="sqlite",
                        help="both: also PostgreSQL (a server of the benchmark's own)")  # fmt: skip
    args = parser.parse_args(argv)
    both = args.db == "both"
    if args.quick:
        with tempfile.TemporaryDirectory() as tmp:
            report = run(True, args.events, args.baseline_events, Path(tmp), postgresql=both)
    else:
        report = run(False, args.events, args.baseline_events, postgresql=both)
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
