"""The room dashboard at scale: the page's first load (page, script, style and figures) and each refresh
(the figures again), server time and bytes, against `!usage` for the same period, on the query
benchmark's database (10,000,000 events over 400 days by default).

    .venv/bin/python -m bench.dashboard                   # .bench/queries-10000000.db (built once), docs
    .venv/bin/python -m bench.dashboard --events 1000000  # another size (docs say which)
    .venv/bin/python -m bench.dashboard --quick           # 200,000 events in a temp dir; writes nothing
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import aiohttp

from matrix_usage_bot.bot.commands.request import Request, Services
from matrix_usage_bot.bot.commands.usage import room_summary
from matrix_usage_bot.bot.config import Config
from matrix_usage_bot.bot.dashboard.routes import TOKEN_HEADER
from matrix_usage_bot.bot.dashboard.tokens import DashboardTokens
from matrix_usage_bot.bot.http.server import UsageServer
from matrix_usage_bot.tracking.periods import zone

from . import common, data, querydb

TZ = "Europe/Berlin"
PERIODS = (("month", "this month"), ("week", "7 days"), ("today", "today"))
WIDTH = 1200  # the chart's width in pixels, a desktop browser's


async def _timed(session: aiohttp.ClientSession, url: str, token: str | None = None) -> tuple[float, int, bytes]:
    started = time.perf_counter()
    async with session.get(url, headers={TOKEN_HEADER: token} if token else {}) as response:
        body = await response.read()
        assert response.status == 200, (url, response.status, body[:200])
    return (time.perf_counter() - started) * 1000, len(body), body


async def _chat(services: Services, room: str, period: str) -> tuple[float, int, str]:
    """`!usage PERIOD` in the room, as the bot's handler answers it (without sending it to Matrix)."""
    request = Request(room, "@bench:example.org", None, False, False, services)
    started = time.perf_counter()
    answer = await room_summary(request, period)
    return (time.perf_counter() - started) * 1000, len((answer.plain + answer.html).encode()), answer.plain


async def measure(url: str, reps: int) -> dict:
    config = Config.model_validate({"storage": {"url": url}, "bot": {"timezone": TZ},
                                    "http": {"listen": "127.0.0.1:0", "public_url": "http://127.0.0.1"}})  # fmt: skip
    server = await UsageServer(config).start()
    room = data.world().rooms[0]  # the busiest room
    results: dict = {}
    try:
        token, _ = await DashboardTokens(server.store).issue(room, timedelta(hours=1))
        services = Services(server.store, zone(TZ), lambda r: (r,), lambda r: None, list)
        base = f"http://127.0.0.1:{server.port}/dashboard/"
        async with aiohttp.ClientSession() as session:
            for period, label in PERIODS:
                view = f"{base}api/view?period={period}&by=agent&width={WIDTH}"
                loads, refreshes, chats = [], [], []
                for _ in range(reps + 1):  # the first of each is a warm-up
                    files = [await _timed(session, base + name) for name in ("", "app.js", "app.css")]
                    first = await _timed(session, view, token)
                    loads.append((sum(f[0] for f in files) + first[0], sum(f[1] for f in files) + first[1]))
                    refreshes.append(await _timed(session, view, token))
                    chats.append(await _chat(services, room, period))
                calls = _calls_of(first[2])
                results[label] = {
                    "load_ms": common.median([t for t, _ in loads[1:]]), "load_bytes": loads[-1][1],
                    "refresh_ms": common.median([t for t, _, _ in refreshes[1:]]), "refresh_bytes": refreshes[-1][1],
                    "chat_ms": common.median([t for t, _, _ in chats[1:]]), "chat_bytes": chats[-1][1],
                    "calls": calls, "agrees": agrees(calls, chats[-1][2]),
                }  # fmt: skip
    finally:
        await server.close()
    return results


def agrees(calls: str, answer: str) -> bool:
    """`!usage`'s answer states the page's number of calls: "N calls", or "no usage" and no count for none (a
    room's "today" just after local midnight)."""
    text = answer.replace(",", "")
    if calls != "0":
        return f"{calls} call" in text
    return "no usage" in text and re.search(r"\b\d+ calls?\b", text) is None


def _calls_of(view: bytes) -> str:
    return next(t["exact"] for t in json.loads(view)["tiles"] if t["label"] == "Calls").replace(",", "")


def run(quick: bool = False, doc: Path | None = common.DOC, workdir: Path | None = None,
        events: int | None = None) -> dict:  # fmt: skip
    events = events or (200_000 if quick else 10_000_000)
    reps = 3 if quick else 20
    path = (workdir or common.CACHE) / f"queries-{events}.db"
    info = querydb.build(path, events)
    results = asyncio.run(measure(f"sqlite:///{path}", reps))
    problems = [f"{label}: the page's calls ({r['calls']}) are not those of !usage" for label, r in results.items()
                if not r["agrees"]]  # fmt: skip
    rows = []
    for label, r in results.items():
        print(f"{label}: first load {r['load_ms']:.1f} ms {r['load_bytes']:,} B; refresh {r['refresh_ms']:.1f} ms"
              f" {r['refresh_bytes']:,} B; !usage {r['chat_ms']:.1f} ms {r['chat_bytes']:,} B")  # fmt: skip
        rows.append([label, f"{int(r['calls']):,}", f"**{r['load_ms']:.1f}**", f"{r['load_bytes'] / 1000:.1f}",
                     f"**{r['refresh_ms']:.1f}**", f"{r['refresh_bytes'] / 1000:.1f}", f"{r['chat_ms']:.1f}",
                     f"{r['chat_bytes'] / 1000:.1f}", f"{r['refresh_ms'] / r['chat_ms']:.1f}×"])  # fmt: skip
    headers = ["period", "calls in the room", "first load ms", "first load kB", "refresh ms", "refresh kB",
               "`!usage P` ms", "`!usage P` kB", "refresh / `!usage`"]  # fmt: skip
    body = common.table(headers, rows) + (
        f"\n\nDatabase: {info['events']:,} events over {info['days']} days (`bench/querydb.py`, the query benchmark's),"
        " the busiest room (about 6% of all events), timezone " + TZ + ". The bot's HTTP server"
        " (`UsageServer`) on loopback with a dashboard token for that room; an aiohttp client."
        " First load = the page, its script and its style (static files) and the figures (`/dashboard/api/view`:"
        f" totals, the cost chart by agent drawn as SVG {WIDTH} px wide, four breakdowns with latency, quotas,"
        " month projection); refresh = the figures again, as the page asks every minute while open. Times are"
        " round trips on loopback, so they are the server's time plus a little HTTP; bytes are the bodies"
        " (no compression). `!usage P` = the bot's handler for `!usage P` in that room (the same store"
        f" connection), body plus HTML, without the Matrix send. Median of {reps} runs after a warm-up;"
        " the page's calls were checked equal to those of `!usage`"
        f" ({'all equal' if not problems else '; '.join(problems)}). Warm page cache; noisy shared machine."
    )
    common.write_section("dashboard", "The room dashboard: first load and refresh", body, None if quick else doc)
    for problem in problems:
        print("PROBLEM:", problem)
    return {"results": results, "problems": problems}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200,000 events in a temp dir; writes no docs")
    parser.add_argument("--events", type=int, help="events in the database (default 10,000,000)")
    args = parser.parse_args(argv)
    if args.quick:
        with tempfile.TemporaryDirectory() as tmp:
            report = run(True, None, Path(tmp), args.events)
    else:
        report = run(events=args.events)
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
