"""Where the ingest time goes: each step of the write path timed alone, on one thread, in the same run.

The tracker overlaps these steps on two threads (the caller, the writer and its row preparer), so
the end-to-end time lies between the slowest step and their sum. The SQLite steps are cumulative:
a bare table (the floor: what storing the rows at all costs through Python's sqlite3, durable, in
the writer's batch size), then the events table as the store keeps it, then the store's own
`insert_batch` with the rollup tables.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.rows import Recorded, recorded_to_row
from matrix_usage_bot.tracking.store import EVENT_COLUMNS, open_store, prepare_batch
from matrix_usage_bot.tracking.store.batch import aggregate
from matrix_usage_bot.tracking.store.schema import LATEST, SQLITE, statements_to
from matrix_usage_bot.tracking.store.sqlite.store import INSERT_EVENTS, INSERT_NEW_EVENTS

from . import common

DEFAULTS = Recorded._field_defaults  # a missing field takes the record's own default

BATCH = 20_000
_COLUMNS = ", ".join(EVENT_COLUMNS)


def _per_event(seconds: float, n: int) -> float:
    return seconds / n * 1e6


def _batches(rows: Sequence[tuple], size: int = BATCH) -> list[Sequence[tuple]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def _sqlite_steps(path: Path, rows: Sequence[tuple], schema: Callable[[sqlite3.Connection], None], sql: str) -> float:
    """Seconds to insert rows in BATCH-row transactions (WAL, synchronous=FULL, the store's pragmas)."""
    common.remove_db(path)
    conn = sqlite3.connect(path, isolation_level=None)
    schema(conn)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA cache_size = -32768")
    started = time.perf_counter()
    for batch in _batches(rows):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, batch)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    common.remove_db(path)
    return elapsed


def _bare(conn: sqlite3.Connection) -> None:
    conn.execute(f"CREATE TABLE events (seq INTEGER PRIMARY KEY, {_COLUMNS})")


def _as_stored(conn: sqlite3.Connection) -> None:
    for statement in statements_to(LATEST, SQLITE):
        conn.execute(statement)


async def store_write(path: Path, rows: Sequence[tuple], size: int = BATCH) -> float:
    """Seconds the store's `insert_batch` takes for rows in transactions of `size`, summed before the clock starts:
    its SQL alone, with no Python of the paths around it."""
    common.remove_db(path)
    store = await open_store(f"sqlite:///{path}")
    prepared = [prepare_batch(batch) for batch in _batches(rows, size)]
    started = time.perf_counter()
    for batch in prepared:
        await store.insert_batch(batch)
    elapsed = time.perf_counter() - started
    await store.close()
    common.remove_db(path)
    return elapsed


def _records(calls: Sequence[dict]) -> list[Recorded]:
    """What `Tracker.record` queues for each call."""
    fields = Recorded._fields
    given = {"cache_write_1h_tokens": 0}
    return [Recorded(**{f: kw.get(f, DEFAULTS.get(f)) for f in fields} | {"status": kw.get("status", "ok")} | given)
            for kw in calls]  # fmt: skip


def priced_rows(calls: Sequence[dict]) -> list[tuple]:
    """The rows the writer stores for `calls` (keyword arguments of Tracker.record), priced now."""
    pricer, now = Pricer(), time.time()
    return [recorded_to_row(r, pricer, now) for r in _records(calls)]


def measure(calls: Sequence[dict], workdir: Path) -> dict[str, float]:
    """µs per event of each step, on `calls` (keyword arguments of Tracker.record)."""
    n = len(calls)
    records = _records(calls)
    pricer, now = Pricer(), time.time()
    started = time.perf_counter()
    rows = [recorded_to_row(r, pricer, now) for r in records]
    rows_s = time.perf_counter() - started
    started = time.perf_counter()
    for batch in _batches(rows):
        aggregate(batch)
    sums_s = time.perf_counter() - started
    db = workdir / "stages.db"
    floor_s = _sqlite_steps(db, rows, _bare, INSERT_EVENTS)
    events_s = _sqlite_steps(db, rows, _as_stored, INSERT_NEW_EVENTS)
    store_s = asyncio.run(store_write(db, rows))
    return {
        "rows": _per_event(rows_s, n),
        "sums": _per_event(sums_s, n),
        "floor": _per_event(floor_s, n),
        "events": _per_event(events_s, n),
        "store": _per_event(store_s, n),
    }


def section(stages: dict[str, float], run: dict, end_to_end_us: float, allowed: dict[str, float]) -> str:
    """The profile section of docs/benchmarks.md. ``allowed``: each target, as the µs per event in all that it
    allows in this run (the floor's and the baseline's figures are this run's)."""

    def rate(us: float) -> str:
        return f"{1e6 / us:,.0f}"

    n = run["events"]
    record_us = run["record_us"]
    writing_us, preparing_us = run["write_s"] / n * 1e6, run["prepare_s"] / n * 1e6
    serial = record_us + stages["rows"] + stages["sums"] + stages["store"]
    rows = [
        ["`record()` in the caller (attribution, a tuple on a deque)", f"{record_us:.2f}", rate(record_us)],
        ["validate + price a row (`recorded_to_row`)", f"{stages['rows']:.2f}", rate(stages["rows"])],
        ["sum the batch for the rollups (`aggregate`)", f"{stages['sums']:.2f}", rate(stages["sums"])],
        ["SQLite floor: the same rows into a bare table (rowid only), 20,000 per durable commit",
         f"{stages['floor']:.2f}", rate(stages["floor"])],
        ["SQLite: the `events` table as stored (rowid, unique `event_id`, `(room_id, ts_ms)`, `(ts_ms)`)",
         f"{stages['events']:.2f}", rate(stages["events"])],
        ["SQLite: the store's `insert_batch` (events + 7 rollup tables, one transaction)",
         f"{stages['store']:.2f}", rate(stages["store"])],
        ["all steps one after the other (record + row + sums + store)", f"{serial:.2f}", rate(serial)],
        ["in the run above: the writer preparing batches (row + sums, on its helper thread)",
         f"{preparing_us:.2f}", ""],
        ["in the run above: the writer writing batches (`insert_batch`, while the next is prepared)",
         f"{writing_us:.2f}", rate(writing_us)],
        ["in the run above: end to end", f"{end_to_end_us:.2f}", rate(end_to_end_us)],
    ]  # fmt: skip
    body = common.table(["step", "µs per event", "events/s if it were the only step"], rows)
    body += _allowances(stages, record_us, allowed)
    share = stages["floor"] / stages["store"]
    bound = (f" Alone, the store's SQL would allow {rate(stages['store'])} events/s, {share:.0%} of the floor's rate;"
             f" sharing the GIL in the run brings it to {rate(writing_us)}.")  # fmt: skip
    return body + (
        f"\n\nThe steps alone: each timed on one thread, on the {n:,} events of the run above (same mix,"
        " same machine, same pragmas: WAL, synchronous=FULL, 32 MiB page cache). In the run, the writer"
        " prepares the next batch on a helper thread while the database thread writes the current one, so"
        f" preparing ({preparing_us:.1f} µs per event) hides behind writing ({writing_us:.1f} µs per event,"
        f" {writing_us / end_to_end_us * 100:.0f}% of the run): the store's SQL sets the rate. It is slower in the"
        f" run than alone ({stages['store']:.1f} µs) because the two threads share the GIL, which the sqlite3"
        " module takes back after every row it steps. Storing the rows at all, durable, with no index and no"
        f" rollup, costs {stages['floor']:.1f} µs per event here; the `events` table's three indexes bring it to"
        f" {stages['events']:.1f} µs and the seven rollup tables (schema version 10: room and agent per UTC hour"
        " and day, operations per hour, latency per day, so a batch of the writer holds far fewer rollup rows than"
        f" events) to {stages['store']:.1f} µs.{bound}"
    )


def _allowances(stages: dict[str, float], record_us: float, allowed: dict[str, float]) -> str:
    """Each target as µs per event in all, beside parts that every event needs whatever the code around them:
    a target below one of them alone cannot be met by this layout and this Python, however they are overlapped."""
    python = record_us + stages["rows"] + stages["sums"]
    parts = {"the Python every event needs before any SQL (record + row + sums)": python,
             "the `events` table with its indexes alone (no rollup, no Python)": stages["events"],
             "the store's SQL alone (events + rollups, no Python)": stages["store"]}  # fmt: skip
    rows = [[target, f"{us:.2f}", *(f"{part:.2f}" + (" (over)" if part > us else "") for part in parts.values())]
            for target, us in allowed.items()]  # fmt: skip
    return "\n\n" + common.table(["target, as µs per event in all", "allows", *parts], rows)
