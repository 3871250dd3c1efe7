"""The HTTP collector: events/s from agents over HTTP on loopback (batched), and `GET /v1/usage` latency,
against `usage-bot ingest` and the direct query, in the same run.

The server is `usage-bot serve` in a process of its own (as in production); the client is this process.

    .venv/bin/python -m bench.http_collector            # 200,000 events; /v1/usage on the 10M-event query DB
    .venv/bin/python -m bench.http_collector --usage-events 1000000    # a smaller query DB (quicker to build)
    .venv/bin/python -m bench.http_collector --quick    # small sizes, writes nothing to docs/
    .venv/bin/python -m bench.http_collector --before ../baseline-b2afaa0   # and the code before, in the same run

With `--before`, rounds (3) run the two trees in turn and a ratio is the median of the rounds' ratios: on this
shared machine one run of the same code varies by a quarter from the next.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.http_sink import POST_SIZE
from matrix_usage_bot.tracking.ingest import INGEST_BATCH, ingest_lines
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.store import open_store

from . import common, data, http_usage, ingest_stages, querydb

KEY = "bench-key-0123456789abcdef"
TARGET_BEFORE = 3.0
"""Events/s of each path over the code before issue 25's."""
PER_REQUEST = 1000
TRANSACTION = {"tracker": POST_SIZE, "posts": PER_REQUEST, "ingest": INGEST_BATCH}
"""Events per transaction on each path: the collector stores a request in one."""
CONFIG = """
storage: {{url: "sqlite:///{db}"}}
http:
  listen: 127.0.0.1:{port}
  max_body_bytes: 67108864
  keys: [{{name: bench, key: "{key}", rooms: all, ingest: true}}]
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`usage-bot serve` on a database, in its own process."""

    def __init__(self, db: Path, workdir: Path) -> None:
        self.port = _port()
        config = workdir / f"serve-{self.port}.yaml"
        config.write_text(CONFIG.format(db=db, port=self.port, key=KEY))
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([*common.USAGE_BOT, "serve", "-c", str(config), "--log-level",
                                      "WARNING"])  # fmt: skip

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("usage-bot serve did not start")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def _count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]


def _lines(calls: list[dict]) -> list[str]:
    return [json.dumps({**kw, "event_id": f"ev{i:09d}"}) + "\n" for i, kw in enumerate(calls)]


async def tracker_over_http(db: Path, workdir: Path, calls: list[dict]) -> dict:
    common.remove_db(db)
    with Server(db, workdir) as server:
        spool = workdir / "spool.jsonl"
        async with tracking.Tracker(server.url, api_key=KEY, spool=spool, max_pending=len(calls) + 1) as tracker:
            started = time.perf_counter()
            for kw in calls:
                tracker.record(**kw)
            await tracker.flush()  # returns once the collector answered for every batch: stored
            seconds = time.perf_counter() - started
    return {"rate": len(calls) / seconds, "seconds": seconds, "stored": _count(db)}


async def posts(db: Path, workdir: Path, lines: list[str], per_request: int = PER_REQUEST, parallel: int = 2) -> dict:
    common.remove_db(db)
    bodies = ["".join(lines[i : i + per_request]).encode() for i in range(0, len(lines), per_request)]
    with Server(db, workdir) as server:
        headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/x-ndjson"}
        async with aiohttp.ClientSession(headers=headers) as client:
            queue = list(reversed(bodies))
            stored = 0

            async def worker() -> None:
                nonlocal stored
                while queue:
                    async with client.post(f"{server.url}/v1/events", data=queue.pop()) as r:
                        assert r.status == 200, await r.text()
                        stored += (await r.json())["stored"]

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(parallel)))
            seconds = time.perf_counter() - started
    return {"rate": len(lines) / seconds, "seconds": seconds, "stored": stored}


async def ingest(db: Path, lines: list[str]) -> dict:
    common.remove_db(db)
    store = await open_store(f"sqlite:///{db}")
    started = time.perf_counter()
    result = await ingest_lines(store, io.StringIO("".join(lines)), Pricer())
    seconds = time.perf_counter() - started
    await store.close()
    return {"rate": len(lines) / seconds, "seconds": seconds, "stored": result.stored}


_FIGURES = """
import asyncio, json, os, sys, time
from pathlib import Path
from bench import data, http_collector as h
n, work, now = int(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
start, end = data.span_days(10, now)
calls = list(data.calls(data.world(), n, start, end, seed=3))
lines = h._lines(calls)
server_cpu = []
stop = h.Server.__exit__
def exit_noting_cpu(server, *exc):
    fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    server_cpu.append((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    stop(server, *exc)
h.Server.__exit__ = exit_noting_cpu
out = {}
for name, figure in (("tracker", lambda: h.tracker_over_http(work / "tracker.db", work, calls)),
                     ("posts", lambda: h.posts(work / "posts.db", work, lines)),
                     ("ingest", lambda: h.ingest(work / "ingest.db", lines))):
    cpu = time.process_time()
    out[name] = asyncio.run(figure())
    out[name]["client_cpu_us"] = (time.process_time() - cpu) / n * 1e6
    out[name]["server_cpu_us"] = server_cpu.pop() / n * 1e6 if server_cpu else 0.0
print(json.dumps(out))
"""
"""The three collector paths on n calls, run by a tree's own code in a process of its own (so the code before a
change can run it too: this file's functions were the same then), with the CPU time each side spent per event
(the server's from its start, in its own process; `ingest` has no server)."""


def _figures(tree: Path, n: int, work: Path, now: float) -> dict[str, dict]:
    python = tree / ".venv" / "bin" / "python"
    work.mkdir(parents=True, exist_ok=True)
    out = subprocess.run([str(python) if python.exists() else sys.executable, "-c", _FIGURES, str(n), str(work),
                          str(now)], cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, check=True,
                         stdout=subprocess.PIPE, text=True).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def _medians(runs: list[dict[str, dict]]) -> dict[str, dict]:
    """Each path's figures, each the median over the runs (`stored`: the fewest)."""
    return {path: {key: (min if key == "stored" else statistics.median)(r[path][key] for r in runs)
                   for key in figures} for path, figures in runs[0].items()}  # fmt: skip


def run(quick: bool = False, events: int | None = None, usage_events: int | None = None,
        doc: Path | None = common.DOC, workdir: Path | None = None, before: Path | None = None,
        rounds: int = 3) -> dict:  # fmt: skip
    n = events or (5_000 if quick else 200_000)
    big = usage_events or (50_000 if quick else 10_000_000)
    rounds = rounds if before and not quick else 1
    now_runs: list[dict[str, dict]] = []
    before_runs: list[dict[str, dict]] = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        work, now = Path(tmp), time.time()
        for _round in range(rounds):
            now_runs.append(_figures(common.ROOT, n, work / "now", now))
            if before:
                before_runs.append(_figures(before.resolve(), n, work / "before", now))
        figures, was = _medians(now_runs), _medians(before_runs) if before_runs else {}
        priced = ingest_stages.priced_rows(list(data.calls(data.world(), n, *data.span_days(10, now), seed=3)))
        alone = {k: asyncio.run(ingest_stages.store_write(work / "alone.db", priced, size)) / n * 1e6
                 for k, size in TRANSACTION.items()}  # fmt: skip
        qdb = (workdir or common.CACHE) / f"queries-{big}.db"
        info = querydb.build(qdb, big)
        with Server(qdb, work) as server:
            latency = asyncio.run(http_usage.usage_latency(qdb, server.url, KEY, 5 if quick else 30))
    problems = [f"{name}: stored {f['stored']:,} of {n:,}" for name, f in figures.items() if f["stored"] != n]
    for name, f in figures.items():
        print(f"{name}: {f['rate']:,.0f} events/s ({f['seconds']:.2f}s, stored {f['stored']:,})")
    for name, r in latency.items():
        print(f"/v1/usage {name}: {r['http_ms']:.2f} ms (p95 {r['http_p95_ms']:.2f}), direct {r['direct_ms']:.2f} ms")
    words = {"tracker": "`Tracker(\"http://...\")`: record() until every event is in the store",
             "posts": "`POST /v1/events`, JSON lines, 1,000 events a request, 2 in parallel",
             "ingest": "`usage-bot ingest`'s code (`ingest_lines`) on the same JSON lines, no HTTP"}  # fmt: skip
    def cpu(f: dict) -> str:
        return f"{f['client_cpu_us']:.0f} + {f['server_cpu_us']:.0f}"

    rows = [[words[k], f"**{f['rate']:,.0f}**", f"{f['seconds']:.2f}", cpu(f), f"{alone[k]:.1f} ({TRANSACTION[k]:,})"]
            for k, f in figures.items()]  # fmt: skip
    headers = ["path", "events/s", "seconds", "CPU µs/event: client + server", "store's SQL alone, µs/event (a txn)"]
    if was:
        headers += ["events/s before", "CPU before", "now / before", "each round", "at most (the SQL alone)",
                    f"target ≥ {TARGET_BEFORE:.0f}×"]
        for row, k in zip(rows, figures, strict=True):
            ratios = [a[k]["rate"] / b[k]["rate"] for a, b in zip(now_runs, before_runs, strict=True)]
            ratio, cap = statistics.median(ratios), 1e6 / alone[k] / was[k]["rate"]
            verdict = "met" if ratio >= TARGET_BEFORE else f"MISSED by {(TARGET_BEFORE - ratio) / TARGET_BEFORE:.0%}"
            row += [f"{was[k]['rate']:,.0f}", cpu(was[k]), f"**{ratio:.2f}×**", " / ".join(f"{r:.2f}×" for r in ratios),
                    f"{cap:.2f}×", verdict]  # fmt: skip
            print(f"{k}: before {was[k]['rate']:,.0f} events/s, now / before {ratio:.2f}x")
    body = common.table(headers, rows)
    body += (f"\n\n{n:,} events of `bench/data.py` (10 days, many rooms), each path into a fresh database; the"
             " server is `usage-bot serve` in its own process on loopback, pricing every event with genai-prices"
             " like every entry point. Each tree's own code runs the three paths in a process of its own"
             + (f"; {rounds} rounds, in each the code now and then the code before (`{before.name}`, main at b2afaa0,"
                " the code before issue 25). Figures: the median over the rounds; now / before: the median of the"
                " rounds' ratios" if was else "") + ". CPU: the process time of the client (this process: the"
             " tracker and its writer, or the posting loop, or `ingest`) and of the server (its whole life, start"
             f" included), per event; on {common.CORES} cores shared with other work, the rate cannot pass about"
             f" {common.CORES} cores / their"
             " sum, so a ratio of rates follows the ratio of CPU per event. The store's SQL alone: the same events,"
             " priced and summed before the clock starts, stored by `insert_batch` in the path's transactions (a"
             " request is one): SQLite stores one transaction at a time, so no path can pass that rate, however the"
             " parsing, pricing and HTTP around it were overlapped; \"at most\" is that rate over the code before's."
             " Noisy shared machine.\n\n")  # fmt: skip
    body += common.table(["`GET /v1/usage`", "median ms over HTTP", "p95 ms", "direct `usage_report` ms"],
                         [[k, f"**{r['http_ms']:.2f}**", f"{r['http_p95_ms']:.2f}", f"{r['direct_ms']:.2f}"]
                          for k, r in latency.items()])  # fmt: skip
    size_note = (f"built once under `.bench/` in {info['build_seconds']:.0f} s, {info['size_mb']:,} MB, shared with"
                 " `bench.queries`" if big >= 10_000_000 else "smaller than the 10M events of issue 17; the default"
                 " run uses those")  # fmt: skip
    body += (f"\n\nOn the query database of `bench/querydb.py` with {info['events']:,} events over {info['days']}"
             f" days ({size_note}); the busiest room; median of the runs after a warm-up. HTTP adds the request,"
             " the key check and the JSON of `report --format json` to the same query.")  # fmt: skip
    common.write_section("http-collector", "HTTP collector and API", body, None if quick else doc)
    return {"figures": figures, "latency": latency, "problems": problems, "alone_us": alone}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes for CI; writes nothing to docs/")
    parser.add_argument("--events", type=int, help="events per collector path")
    parser.add_argument("--usage-events", type=int, help="size of the query database for /v1/usage")
    parser.add_argument("--before", type=Path, help="a checkout of the code before (with its own .venv)")
    parser.add_argument("--rounds", type=int, default=3, help="with --before: runs of each tree, in turn")
    args = parser.parse_args(argv)
    report = run(quick=args.quick, events=args.events, usage_events=args.usage_events, before=args.before,
                 rounds=args.rounds)
    for problem in report["problems"]:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
