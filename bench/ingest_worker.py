"""One writer process of the ingest benchmarks: `Tracker.record` for a slice of prepared calls, until `flush()`
returned; prints its figures as JSON.

Run as a file (`python bench/ingest_worker.py ...`), not as a module, so that `tracking` is whichever tree's
package PYTHONPATH names: the benchmarks run this same script against the code before a change (another git
worktree) and against the code now, in one run. Trees from before the package moved under `matrix_usage_bot/`
have `tracking` at their top level.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pickle
import time

try:
    from matrix_usage_bot import tracking
except ImportError:  # a tree from before the move
    import tracking  # type: ignore[no-redef]


async def record(url: str, calls: list[dict], ready_at: float) -> dict:
    async with tracking.Tracker(url, max_pending=len(calls) + 1) as tracker:
        await tracker.flush()  # the store is open (and migrated) before the clock starts
        await asyncio.sleep(max(0.0, ready_at - time.time()))  # every process starts together
        started, cpu = time.perf_counter(), time.process_time()
        for kw in calls:
            tracker.record(**kw)
        recorded = time.perf_counter()
        await tracker.flush()
        durable, cpu = time.perf_counter(), time.process_time() - cpu
        stats = tracker.stats
    return {"events": len(calls), "seconds": durable - started, "record_us": (recorded - started) / len(calls) * 1e6,
            "stored": stats.stored, "duplicates": stats.duplicates, "rejected": stats.rejected,
            "prepare_s": stats.prepare_seconds, "write_s": stats.write_seconds, "started": started,
            "cpu_s": cpu}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("calls", help="a pickle of Tracker.record keyword arguments")
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int)
    parser.add_argument("--start-at", type=float, default=0.0, help="Unix time to start recording at")
    args = parser.parse_args()
    with open(args.calls, "rb") as f:
        calls = pickle.load(f)
    mine = calls[args.first : args.first + args.count if args.count else None]
    print(json.dumps(asyncio.run(record(args.url, mine, args.start_at))))


if __name__ == "__main__":
    main()
