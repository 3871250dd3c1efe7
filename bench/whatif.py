"""`!usage whatif` at scale: the busiest room's calls re-priced on another model, for a day up to all of it, on the
query benchmark's database (`bench/querydb.py`: 10,000,000 events over 400 days by default).

    .venv/bin/python -m bench.whatif                    # 10M events (.bench/queries-10000000.db, built once)
    .venv/bin/python -m bench.whatif --sizes 1000000    # another size
    .venv/bin/python -m bench.whatif --quick            # 200,000 events in a temp dir; writes nothing

Each answer is checked against the same calls priced one by one (`Pricer.price_pico_ms` per raw event: the
writer's pricing, itself checked against genai-prices' calc_price on a sample here), and timed against what
pricing every call with calc_price would take (its time per call measured on that sample).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN
from pathlib import Path

from genai_prices import Usage, calc_price

from matrix_usage_bot.tracking.advice import model_grain, room_calls, whatif
from matrix_usage_bot.tracking.fields import COLUMN, Counts
from matrix_usage_bot.tracking.periods import Period, zone
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.store import Filters, Store, open_store

from . import common, data, querydb

TZ = "Europe/Berlin"
TARGET = "deepseek-chat"  # off-peak hours: its price changes twice a day, the hardest case for grouping
SPANS = (("1 day", 1), ("7 days", 7), ("a month", 30), ("3 months", 91), ("all (400 days)", 400))
_SAMPLE = 2_000
_C = {name: COLUMN[name] for name in ("ts_ms", "input_tokens", "output_tokens", "cache_read_tokens",
                                      "cache_write_tokens", "reasoning_tokens")}  # fmt: skip


def _periods(end_s: float) -> list[tuple[str, Period]]:
    """Whole local days ending with the last whole day of the database (a month: the last 30 of them)."""
    tz = zone(TZ)
    last = datetime.fromtimestamp(end_s, UTC).astimezone(tz).date()
    return [(label, Period(label, last - timedelta(days=days), last, tz)) for label, days in SPANS]


def _counts(row: tuple) -> Counts:
    """A stored row's counts, by name (the row's finer counts are 0 in this mix)."""
    return Counts(**{name: row[_C[name]] for name in ("input_tokens", "output_tokens", "cache_read_tokens",
                                                      "cache_write_tokens", "reasoning_tokens")})


async def _one_by_one(store: Store, period: Period, room: str) -> tuple[int, list[tuple]]:
    """The whatif total with every call priced alone (the writer's pricing), and the raw rows."""
    pricer, total, rows = Pricer(), 0, []
    async for row in store.iter_events(period.start_ms, period.end_ms, Filters(room_id=(room,))):
        rows.append(row)
        total += pricer.price_pico_ms("deepseek", TARGET, row[_C["ts_ms"]], _counts(row)) or 0
    return total, rows


def _calc_price_sample(rows: list[tuple]) -> tuple[float, list[str]]:
    """Milliseconds a call for genai-prices' calc_price, and where the writer's pricing differs from it."""
    sample = random.Random(5).sample(rows, min(_SAMPLE, len(rows)))
    pricer, problems = Pricer(), []
    started = time.perf_counter()
    for row in sample:
        ts = datetime.fromtimestamp(row[_C["ts_ms"]] / 1000, UTC)
        usage = Usage(input_tokens=row[_C["input_tokens"]], output_tokens=row[_C["output_tokens"]],
                      cache_read_tokens=row[_C["cache_read_tokens"]], cache_write_tokens=row[_C["cache_write_tokens"]],
                      output_reasoning_tokens=row[_C["reasoning_tokens"]])  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            price = calc_price(usage, TARGET, provider_id="deepseek", genai_request_timestamp=ts).total_price
        expected = int((price * 10**12).to_integral_value(rounding=ROUND_HALF_EVEN))
        ours = pricer.price_pico_ms("deepseek", TARGET, row[_C["ts_ms"]], _counts(row))
        if ours != expected:
            problems.append(f"call at {ts.isoformat()}: {ours} pico-dollars, calc_price says {expected}")
    per_call = (time.perf_counter() - started) * 1000 / max(len(sample), 1)
    return per_call, problems[:5]


async def measure(url: str, end_s: float, reps: int) -> dict:
    store = await open_store(url, must_exist=True)
    try:
        room = data.world().rooms[0]  # the busiest room (Zipf head)
        results, problems, calc_ms = {}, [], 0.0
        for label, period in _periods(end_s):
            times = []
            for _ in range(reps + 1):  # the first is a warm-up
                started = time.perf_counter()
                answer = await whatif(store, Pricer(), period, (room,), TARGET)
                times.append((time.perf_counter() - started) * 1000)
            grain = model_grain(Pricer(), "deepseek", TARGET)
            groups = len((await room_calls(store, period, (room,), grain, by_model=False)).groups)
            expected, rows = await _one_by_one(store, period, room)
            if not calc_ms:
                calc_ms, found = _calc_price_sample(rows)
                problems += found
            if answer.totals.whatif_pusd != expected:
                problems.append(f"{label}: whatif says {answer.totals.whatif_pusd}, call by call {expected}")
            results[label] = {"calls": answer.totals.calls, "groups": groups, "ms": common.median(times[1:]),
                              "one_by_one": answer.calls_priced_one_by_one,
                              "equal": answer.totals.whatif_pusd == expected}  # fmt: skip
        for r in results.values():
            r["calc_price_ms"] = r["calls"] * calc_ms
        return {"results": results, "problems": problems, "calc_price_ms_per_call": calc_ms}
    finally:
        await store.close()


def run(quick: bool = False, doc: Path | None = common.DOC, workdir: Path | None = None,
        sizes: list[int] | None = None) -> dict:  # fmt: skip
    size = (sizes or [200_000 if quick else 10_000_000])[-1]
    workdir = workdir or common.CACHE
    path = workdir / f"queries-{size}.db"
    info = querydb.build(path, size)
    report = asyncio.run(measure(f"sqlite:///{path}", info["end_s"], 3 if quick else 10))
    rows = []
    for label, r in report["results"].items():
        print(f"{label}: {r['calls']:,} calls in {r['groups']:,} groups, {r['ms']:.1f} ms, equal={r['equal']}")
        rows.append([label, f"{r['calls']:,}", f"{r['groups']:,}", f"**{r['ms']:,.0f}**",
                     f"{r['ms'] * 1000 / max(r['calls'], 1):.1f}", f"{r['calc_price_ms'] / 1000:,.1f} s",
                     "equal" if r["equal"] else "WRONG"])  # fmt: skip
    headers = ["period (busiest room)", "calls", "groups priced", "median ms", "µs a call",
               "calc_price per call (estimated)", "checked call by call"]  # fmt: skip
    body = common.table(headers, rows) + (
        f"\n\nDatabase: {info['events']:,} events over {info['days']} days (`bench/querydb.py`, the query benchmark's"
        f" mix), SQLite. `tracking.advice.whatif` on `{TARGET}` (its price changes at 00:30 and 16:30 UTC every day)"
        f" for the busiest room, whole days in {TZ} ending with the database's last whole day; median of the runs"
        " after a warm-up. It reads the calls summed in SQL per agent, price tier and price cell (for this model:"
        " the parts of each UTC day between 00:30 and 16:30; `groups priced`) and prices each group with whole"
        " pico-dollar prices; calls with finer counts (none in this mix) are priced one by one. Each total was"
        " checked equal, to the pico-dollar, to the same calls priced one by one with the writer's pricing, and"
        f" that pricing to genai-prices' `calc_price` on a sample of {_SAMPLE:,} calls"
        f" ({report['calc_price_ms_per_call']:.3f} ms a call: the last column is what pricing every call with it"
        " would take). The time grows linearly with the calls: SQLite reads each raw event of the room once"
        " (its (room_id, ts_ms) index, then the row); pricing the groups is a small part. Noisy shared machine."
    )
    common.write_section("whatif", "`!usage whatif` at scale", body, None if quick else doc)
    for problem in report["problems"]:
        print("PROBLEM:", problem)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 200,000-event database in a temp dir; no docs")
    parser.add_argument("--sizes", help="the database's events, e.g. 1000000 (default 10,000,000)")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.sizes.split(",")] if args.sizes else None
    if args.quick:
        with tempfile.TemporaryDirectory() as tmp:
            report = run(True, None, Path(tmp), sizes)
    else:
        report = run(sizes=sizes)
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
