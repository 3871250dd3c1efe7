"""PostgreSQL writers: events/s into one durable server with 1 and with 4 writer processes, the code now beside
the code before issue 25 (another git worktree, `--before`), same calls, same server, in one run.

    .venv/bin/python -m bench.writers --before ../baseline-b2afaa0   # 300,000 events per run, 3 rounds
    .venv/bin/python -m bench.writers --quick                         # 4,000 events, the code now only; no docs

Each run is a fresh database; every process is `bench/ingest_worker.py` (`Tracker.record` for its slice of the
calls, until `flush()` returned), started together at one wall-clock time; a run's time is its slowest process's.
Rounds run the two trees in turn, and a ratio is the median of the rounds' ratios: on this shared machine one
run of the same code varies by a quarter from the next.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.dbrows import rollup_mismatches, rows
from tests.pg import PgServer

from . import common, postgres
from .ingest import make_calls

WORKER = Path(__file__).with_name("ingest_worker.py")
TARGETS = {1: 2.0, 4: 3.0}
"""Events/s of the code now over the code before, by writer processes."""
_START_MARGIN_S = 8.0
"""Time for every process to import, connect and migrate before the common start."""


def _python(tree: Path) -> str:
    own = tree / ".venv" / "bin" / "python"
    return str(own) if own.exists() else sys.executable


def _run(pg: PgServer, tree: Path, url: str, calls_file: Path, n: int, writers: int) -> dict:
    """`writers` processes of the tree's code share the n calls; returns the run's figures."""
    server_before = postgres.server_cpu_s(pg)
    start_at = time.time() + _START_MARGIN_S
    env = {**os.environ, "PYTHONPATH": str(tree)}
    share = -(-n // writers)
    procs = [subprocess.Popen([_python(tree), str(WORKER), url, str(calls_file), "--first", str(i * share),
                               "--count", str(share), "--start-at", str(start_at)],
                              stdout=subprocess.PIPE, text=True, env=env, cwd=tree)
             for i in range(writers)]  # fmt: skip
    outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError(f"a writer process failed: {[p.returncode for p in procs]}")
    server_us = (postgres.server_cpu_s(pg) - server_before) / n * 1e6
    seconds = max(o["seconds"] for o in outs)
    ((stored,),) = rows(url, "SELECT count(*) FROM events")
    cpu_us = sum(o["cpu_s"] for o in outs) / n * 1e6
    return {"events": n, "writers": writers, "seconds": seconds, "rate": n / seconds, "stored": int(stored),
            "cpu_us": cpu_us, "server_us": server_us}  # fmt: skip


def _median(runs: list[dict]) -> dict:
    """The figures of the runs, each the median over them."""
    return {key: statistics.median(r[key] for r in runs) for key in ("rate", "cpu_us", "server_us")}


def run(quick: bool = False, events: int | None = None, before: Path | None = None, rounds: int = 3,
        doc: Path | None = common.DOC) -> dict:  # fmt: skip
    n = events or (4_000 if quick else 300_000)
    rounds = 1 if quick else rounds
    trees = {"now": common.ROOT} | ({"before": before.resolve()} if before else {})
    runs: dict[str, dict[int, list[dict]]] = {name: {writers: [] for writers in TARGETS} for name in trees}
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, postgres.server() as pg:
        calls_file = Path(tmp) / "calls.pickle"
        calls_file.write_bytes(pickle.dumps(make_calls(n, seed=7)))
        for _round in range(rounds):
            for writers, (name, tree) in ((w, t) for w in TARGETS for t in trees.items()):
                url = pg.new_database()
                r = _run(pg, tree, url, calls_file, n, writers)
                runs[name][writers].append(r)
                if r["stored"] != n:
                    problems.append(f"{name}, {writers} writers: stored {r['stored']:,} of {n:,}")
                if name == "now" and any(rollup_mismatches(url).values()):
                    problems.append(f"{name}, {writers} writers: rollups differ from the events")
                print(f"{name:>6}, {writers} writer(s): {r['rate']:>9,.0f} events/s ({r['seconds']:.2f}s),"
                      f" CPU µs/event: writers {r['cpu_us']:.1f}, server {r['server_us']:.1f}", flush=True)  # fmt: skip
    results = {name: {writers: _median(r) for writers, r in by.items()} for name, by in runs.items()}
    table = []
    for writers, target in TARGETS.items():
        now = results["now"][writers]
        row = [f"{writers}", f"**{now['rate']:,.0f}**", f"{now['cpu_us']:.1f} + {now['server_us']:.1f}"]
        if before:
            was = results["before"][writers]
            ratios = [a["rate"] / b["rate"] for a, b in zip(runs["now"][writers], runs["before"][writers], strict=True)]
            ratio = statistics.median(ratios)
            verdict = "met" if ratio >= target else f"MISSED by {(target - ratio) / target:.0%}"
            cap = common.CORES * 1e6 / (now["cpu_us"] + now["server_us"]) / was["rate"]
            row += [f"{was['rate']:,.0f}", f"{was['cpu_us']:.1f} + {was['server_us']:.1f}", f"**{ratio:.2f}×**",
                    " / ".join(f"{r:.2f}×" for r in ratios), f"{cap:.2f}×", f"≥ {target:.0f}×: {verdict}"]
        table.append(row)
    cpu = "CPU µs/event: writers + server"
    headers = ["writer processes", "events/s now", f"{cpu} now"] + (
        ["events/s before", f"{cpu} before", "now / before", "each round", f"at most ({common.CORES} cores / CPU now)",
         "target"] if before else [])  # fmt: skip
    body = common.table(headers, table) + (
        f"\n\n{rounds} rounds; in each, the code now and the code before in turn, with 1 and then 4 writer"
        " processes. Figures: the median over the rounds; now / before: the median of the rounds' ratios."
        f" {n:,} calls of `bench/data.py` (10 days, 200 rooms) per run, shared evenly by the processes, each"
        " `Tracker.record` in a loop until `flush()` returned (`bench/ingest_worker.py`), all starting at one wall"
        " clock time; the run's time is its slowest process's. One PostgreSQL 15 server of the benchmark's own on"
        " loopback, durable (fsync and synchronous commit on), a fresh database per run; \"before\" is the code"
        f" before issue 25 (`{before.name if before else '-'}`: main at b2afaa0, its own virtualenv) run by the same"
        " worker script against the same server, interleaved with the code now. Every event was checked stored,"
        " and every rollup of the code now against a GROUP BY"
        f" ({'all equal' if not problems else '; '.join(problems)})."
        " CPU per event: the writer processes' (all threads, from their start to `flush()` returned) and the"
        " server's (every PostgreSQL process: the writers' backends, WAL writer, checkpointer, autovacuum; from"
        f" `/proc`). On {common.CORES} cores shared by both the rate cannot pass about {common.CORES} cores / their"
        " sum (\"at most\": that rate, with the CPU per event of the code now, over the code before's rate), so 4"
        " processes add CPU contention, not parallelism, here. With one writer the two overlap in part only (the"
        " writer prepares the next batch while the server stores one, but sends each batch's rows itself and waits"
        " on each"
        f" statement): {1e6 / results['now'][1]['rate']:.1f} µs of wall time per event, against"
        f" {results['now'][1]['server_us']:.1f} of the server's CPU and {results['now'][1]['cpu_us']:.1f} of the"
        " writer's."
    )  # fmt: skip
    common.write_section("ingest-writers", "PostgreSQL writers: the code now and before", body,
                         None if quick else doc)  # fmt: skip
    return {"results": results, "runs": runs, "problems": problems}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4,000 events; writes nothing to docs/")
    parser.add_argument("--events", type=int)
    parser.add_argument("--before", type=Path, help="a checkout of the code before (with its own .venv)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    return common.finish(run(args.quick, args.events, args.before, args.rounds))


if __name__ == "__main__":
    sys.exit(main())
