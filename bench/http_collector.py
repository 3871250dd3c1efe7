"""The HTTP collector: events/s from agents over HTTP on loopback (batched), and `GET /v1/usage` latency,
against `usage-bot ingest` and the direct query, in the same run.

The server is `usage-bot serve` in a process of its own (as in production); the client is this process.

    .venv/bin/python -m bench.http_collector            # 200,000 events; /v1/usage on the 10M-event query DB
    .venv/bin/python -m bench.http_collector --usage-events 1000000    # a smaller query DB (quicker to build)
    .venv/bin/python -m bench.http_collector --quick    # small sizes, writes nothing to docs/
    .venv/bin/python -m bench.http_collector --before ../baseline-b2afaa0   # and the code before, in the same run
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.ingest import ingest_lines
from matrix_usage_bot.tracking.periods import parse_period
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.queries import usage_report
from matrix_usage_bot.tracking.store import open_store

from . import common, querydb

KEY = "bench-key-0123456789abcdef"
TARGET_BEFORE = 3.0
"""Events/s of each path over the code before issue 25's."""
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


async def posts(db: Path, workdir: Path, lines: list[str], per_request: int = 1000, parallel: int = 2) -> dict:
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


def _busiest_room(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT room_id FROM rollup_room_daily GROUP BY room_id ORDER BY sum(calls) DESC"
                            " LIMIT 1").fetchone()[0]  # fmt: skip


async def usage_latency(db: Path, workdir: Path, reps: int) -> dict:
    room = _busiest_room(db)
    queries = {"room, month, by agent": {"period": "month", "by": "agent", "room": room},
               "every room, month, by room": {"period": "month", "by": "room"},
               "room, 30d, by day": {"period": "30d", "by": "day", "room": room}}  # fmt: skip
    results = {}
    store = await open_store(f"sqlite:///{db}")
    with Server(db, workdir) as server:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as client:
            for name, query in queries.items():
                period = parse_period(query["period"], ZoneInfo("UTC"))
                direct, http = [], []
                for _ in range(reps + 1):
                    t = time.perf_counter()
                    await usage_report(store, period, group=query["by"], room_id=query.get("room"))
                    direct.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    async with client.get(f"{server.url}/v1/usage", params=query) as r:
                        assert r.status == 200, await r.text()
                        await r.read()
                    http.append(time.perf_counter() - t)
                results[name] = {"direct_ms": common.median(direct[1:]) * 1000,
                                 "http_ms": common.median(http[1:]) * 1000,
                                 "http_p95_ms": common.percentile(http[1:], 95) * 1000}  # fmt: skip
    await store.close()
    return results


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


def run(quick: bool = False, events: int | None = None, usage_events: int | None = None,
        doc: Path | None = common.DOC, workdir: Path | None = None, before: Path | None = None) -> dict:  # fmt: skip
    n = events or (5_000 if quick else 200_000)
    big = usage_events or (50_000 if quick else 10_000_000)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        work, now = Path(tmp), time.time()
        figures = _figures(common.ROOT, n, work / "now", now)
        was = _figures(before.resolve(), n, work / "before", now) if before else {}
        qdb = (workdir or common.CACHE) / f"queries-{big}.db"
        info = querydb.build(qdb, big)
        latency = asyncio.run(usage_latency(qdb, work, 5 if quick else 30))
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

    rows = [[words[k], f"**{f['rate']:,.0f}**", f"{f['seconds']:.2f}", cpu(f)] for k, f in figures.items()]
    headers = ["path", "events/s", "seconds", "CPU µs/event: client + server"]
    if was:
        headers += ["events/s before", "CPU before", "now / before", f"target ≥ {TARGET_BEFORE:.0f}×"]
        for row, (k, f) in zip(rows, figures.items(), strict=True):
            ratio = f["rate"] / was[k]["rate"]
            verdict = "met" if ratio >= TARGET_BEFORE else f"MISSED by {(TARGET_BEFORE - ratio) / TARGET_BEFORE:.0%}"
            row += [f"{was[k]['rate']:,.0f}", cpu(was[k]), f"**{ratio:.2f}×**", verdict]
            print(f"{k}: before {was[k]['rate']:,.0f} events/s, now / before {ratio:.2f}x")
    body = common.table(headers, rows)
    body += (f"\n\n{n:,} events of `bench/data.py` (10 days, many rooms), each path into a fresh database; the"
             " server is `usage-bot serve` in its own process on loopback, pricing every event with genai-prices"
             " like every entry point. Each tree's own code runs the three paths in a process of its own, one tree"
             " after the other" + (f" (before: `{before.name}`, main at b2afaa0, the code before issue 25)" if was
                                   else "") + ". CPU: the process time of the client (this process: the"
             " tracker and its writer, or the posting loop, or `ingest`) and of the server (its whole life, start"
             " included), per event; on 2 cores shared with other work, the rate cannot pass about 2 cores / their"
             " sum, so a ratio of rates follows the ratio of CPU per event. Noisy shared machine.\n\n")  # fmt: skip
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
    return {"figures": figures, "latency": latency, "problems": problems}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes for CI; writes nothing to docs/")
    parser.add_argument("--events", type=int, help="events per collector path")
    parser.add_argument("--usage-events", type=int, help="size of the query database for /v1/usage")
    parser.add_argument("--before", type=Path, help="a checkout of the code before (with its own .venv)")
    args = parser.parse_args(argv)
    report = run(quick=args.quick, events=args.events, usage_events=args.usage_events, before=args.before)
    for problem in report["problems"]:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
