"""What each part of the SQLite layout costs the write path: the store's batch SQL with one part taken away.

    .venv/bin/python -m bench.layout_parts            # 200,000 events, 3 rounds
    .venv/bin/python -m bench.layout_parts --quick    # small, writes nothing

The store's own schema (the latest version) and statements: a batch's events with `INSERT ... ON CONFLICT
DO NOTHING`, then one upsert per rollup row, table by table, one durable transaction per 20,000 events (the
writer's batch), WAL with synchronous=FULL and the store's cache and checkpoint settings, on one thread (no
Python work beside it: the rows and their sums are computed before the clock starts). Each variant drops
one part of the layout (an index, or a rollup table that is then not written) or keeps a table as a rowid
table, and the variants run in turn, round after round, so drift on a shared machine reaches them alike.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from matrix_usage_bot.tracking.store.batch import ROLLUP_KEYS, aggregate
from matrix_usage_bot.tracking.store.schema import LATEST, SQLITE, statements_to
from matrix_usage_bot.tracking.store.schema.v10 import ROLLUPS
from matrix_usage_bot.tracking.store.sqlite.rollups import ROLLUP_UPSERTS
from matrix_usage_bot.tracking.store.sqlite.store import INSERT_EVENTS, INSERT_NEW_EVENTS, WAL_CHECKPOINT_PAGES

from . import common, ingest, ingest_stages

BATCH = 20_000
_SLOT_INDEXES = ("rollup_slots_slot", "rollup_slots_user", "rollup_slots_thread")


@dataclass(frozen=True)
class Variant:
    name: str
    dropped_indexes: tuple[str, ...] = ()
    unwritten_tables: tuple[str, ...] = ()
    rowid_tables: tuple[str, ...] = ()


VARIANTS = (
    Variant("the layout as stored (schema version 10)"),
    Variant("without the events' `(ts_ms)` index", ("events_ts",)),
    Variant("without the events' `(room_id, ts_ms)` index", ("events_room_ts",)),
    Variant("without the events' unique `(room_id, event_id)` index", ("events_room_event",)),
    Variant("without `rollup_slots`' three secondary indexes", _SLOT_INDEXES),
    Variant("`rollup_slots` a rowid table (its key a unique index)", rowid_tables=("rollup_slots",)),
    Variant("without `rollup_slots` (and its indexes)", _SLOT_INDEXES, ("rollup_slots",)),
    Variant("without the room and agent hourly tables", unwritten_tables=("rollup_room_hourly", "rollup_agent_hourly")),
    Variant("without the room and agent daily tables", unwritten_tables=("rollup_room_daily", "rollup_agent_daily")),
    Variant("without `rollup_operation_hourly`", unwritten_tables=("rollup_operation_hourly",)),
    Variant("without `rollup_latency_daily`", unwritten_tables=("rollup_latency_daily",)),
    Variant("events only, their three indexes kept (no rollup table)", unwritten_tables=tuple(ROLLUP_KEYS)),
    Variant("events only, no index but the rowid (no rollup table)",
            ("events_ts", "events_room_ts", "events_room_event"), tuple(ROLLUP_KEYS)),
)  # fmt: skip


def _open(path: Path, variant: Variant) -> sqlite3.Connection:
    common.remove_db(path)
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in statements_to(LATEST, SQLITE):
        conn.execute(statement)
    for table in variant.rowid_tables:
        conn.execute(f"DROP TABLE {table}")
        for statement in SQLITE.create(replace(ROLLUPS[table], rowid=True)):
            conn.execute(statement)
    for name in variant.dropped_indexes:
        conn.execute(f"DROP INDEX {name}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA cache_size = -32768")
    conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
    return conn


def write(path: Path, variant: Variant, batches: Sequence[Sequence[tuple]], sums: Sequence[dict]) -> tuple[float, int]:
    """(µs per event, events stored) for one variant; raises if a written rollup table misses a call."""
    conn = _open(path, variant)
    insert = INSERT_EVENTS if "events_room_event" in variant.dropped_indexes else INSERT_NEW_EVENTS
    n = sum(map(len, batches))
    started = time.perf_counter()
    for batch, batch_sums in zip(batches, sums, strict=True):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(insert, batch)
        for table, rows in batch_sums.items():
            if rows and table not in variant.unwritten_tables:
                conn.executemany(ROLLUP_UPSERTS[table], rows)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    ((stored,),) = conn.execute("SELECT count(*) FROM events")
    for table in ROLLUP_KEYS:
        if table not in variant.unwritten_tables:
            ((calls,),) = conn.execute(f"SELECT coalesce(sum(calls), 0) FROM {table}")
            if calls != n:
                raise AssertionError(f"{variant.name}: {table} sums {calls} calls of {n}")
    conn.close()
    common.remove_db(path)
    return elapsed / n * 1e6, stored


def run(quick: bool = False, events: int | None = None, rounds: int | None = None,
        workdir: Path | None = None) -> dict:  # fmt: skip
    n = events or (5_000 if quick else 200_000)
    rounds = rounds or (1 if quick else 3)
    rows = ingest_stages.priced_rows(ingest.make_calls(n))
    batches = [rows[i : i + BATCH] for i in range(0, n, BATCH)]
    sums = [aggregate(batch) for batch in batches]
    times: dict[str, list[float]] = {v.name: [] for v in VARIANTS}
    problems: list[str] = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = Path(tmp) / "layout.db"
        for number in range(1, rounds + 1):
            for variant in VARIANTS:
                us, stored = write(path, variant, batches, sums)
                if stored != n:
                    problems.append(f"{variant.name}: {stored} events stored of {n}")
                times[variant.name].append(us)
                print(f"round {number}: {us:7.2f} µs/event  {variant.name}", flush=True)
    medians = {name: common.median(values) for name, values in times.items()}
    full = times[VARIANTS[0].name]
    saved = {name: common.median([f - t for f, t in zip(full, values, strict=True)]) for name, values in times.items()}
    rows_out = [[name, f"**{us:.1f}**", "" if name == VARIANTS[0].name else f"{saved[name]:.1f}",
                 " / ".join(f"{t:.1f}" for t in times[name])] for name, us in medians.items()]  # fmt: skip
    headers = ["layout", "µs per event (median)", "µs saved (median of each round's difference)", "each round"]
    body = common.table(headers, rows_out)
    body += (
        f"\n\n{n:,} events of `bench/data.py` (the ingest benchmark's mix), priced by the writer's row code; each"
        f" variant writes them into a new database in transactions of {BATCH:,}, {rounds} rounds of every variant"
        " in turn. The store's batch SQL alone, on one thread: no validation, pricing or summing runs beside it"
        " (in the tracker they run on another thread and share the GIL with it, which makes its writes slower"
        ' than here; see "Ingest: where the time goes"). A table "without" is not written at all, an index'
        ' "without" is dropped: what that part costs each event, of the total in the first line, taken round by'
        " round so that drift between rounds cancels. Every rollup table written was checked to sum to every call."
        " Noisy shared machine: the rounds show the spread."
    )
    common.write_section("layout-parts", "The SQLite layout, part by part", body, None if quick else common.DOC)
    return {"medians": medians, "saved": saved, "times": times, "problems": problems}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for CI; writes nothing to docs/")
    parser.add_argument("--events", type=int)
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args(argv)
    return common.finish(run(args.quick, args.events, args.rounds))


if __name__ == "__main__":
    sys.exit(main())
