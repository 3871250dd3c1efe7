"""Bot round trip: `!usage` commands from a real nio client against a loopback Synapse, send → answer
received, p50 and p95, against an echo bot (a minimal nio bot answering with an m.notice) on the same
homeserver in the same run. The usage bot runs as `usage-bot run -c config.yaml` on the 10M-event database.

    .venv/bin/python -m bench.roundtrip            # 200 commands each
    .venv/bin/python -m bench.roundtrip --quick    # 20 each, a fresh small database; writes nothing
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from contextlib import AsyncExitStack
from pathlib import Path

from . import botbench, common, querydb

TARGET_RATIO = 1.5
BIG = 10_000_000


async def measure(db: Path, n: int, workdir: Path) -> dict:
    async with AsyncExitStack() as stack:
        s = await botbench.open_session(stack, db, workdir, seed_events=5_000)
        for _ in range(5):  # warm-up
            await s.client.ask(s.room_echo, "hello")
            await s.client.ask(s.room_bot, "!usage")
        echo, usage, problems = [], [], []
        for i in range(n):
            seconds, body = await s.client.ask(s.room_echo, f"hello {i}")
            echo.append(seconds * 1000)
            if not body.startswith("echo:"):
                problems.append(f"echo answered {body[:60]!r}")
            seconds, body = await s.client.ask(s.room_bot, "!usage")
            usage.append(seconds * 1000)
            if "Usage in this room" not in body or "Today" not in body:
                problems.append(f"!usage answered {body[:80]!r}")
        hwm = common.rss_kib(s.bot_proc.pid)
        return {"echo": echo, "usage": usage, "problems": sorted(set(problems)), "bot_rss": hwm}


def run(quick: bool = False, doc: Path | None = common.DOC) -> dict:
    n = 20 if quick else 200
    with botbench.tempdir() as tmp:
        workdir = Path(tmp)
        if quick:
            db = workdir / "usage.db"
            events = 0
        else:
            db = common.CACHE / f"queries-{BIG}.db"
            events = querydb.build(db, BIG)["events"]
        result = asyncio.run(measure(db, n, workdir))
    stats = {}
    for name in ("echo", "usage"):
        values = result[name]
        stats[name] = (common.percentile(values, 50), common.percentile(values, 95))
    ratio = stats["usage"][1] / stats["echo"][1]
    met = ratio <= TARGET_RATIO
    print(f"echo bot:  p50 {stats['echo'][0]:.1f} ms, p95 {stats['echo'][1]:.1f} ms")
    print(f"usage bot: p50 {stats['usage'][0]:.1f} ms, p95 {stats['usage'][1]:.1f} ms"
          f" (p95 ratio {ratio:.2f}; target <= {TARGET_RATIO} {'met' if met else 'MISSED'})")  # fmt: skip
    for problem in result["problems"]:
        print("PROBLEM:", problem)
    body = common.table(
        ["bot", "commands", "p50 ms", "p95 ms", "target"],
        [
            ["echo bot (minimal nio bot, m.notice reply)", n, f"{stats['echo'][0]:.1f}", f"{stats['echo'][1]:.1f}", ""],
            ["usage bot, `!usage` (today + month + top agents)", n, f"{stats['usage'][0]:.1f}",
             f"**{stats['usage'][1]:.1f}**", f"p95 ≤ {TARGET_RATIO}× echo: {ratio:.2f}× {'met' if met else 'missed'}"],
        ],
    )  # fmt: skip
    body += (
        f"\n\nOne loopback Synapse (SQLite, rate limits lifted); both bots in their own processes (`usage-bot run -c"
        f" config.yaml`, `python -m bench.echo_bot`), the client (matrix-nio) in the benchmark's; one command at"
        " a time, echo and usage alternating so both see the same load; time from `room_send` to the reply"
        f" arriving in the client's long-poll sync. The usage bot's database: the {events:,}-event database of the"
        " query benchmark, plus 5,000 events of this run's room recorded through the tracker (removed again"
        f" afterwards). Answers checked ({'all ok' if not result['problems'] else '; '.join(result['problems'])})."
        " Most of either round trip is Synapse (two event sends and syncs); noisy shared machine."
    )
    common.write_section("roundtrip", "Bot round trip", body, None if quick else doc)
    return {"stats": stats, "ratio": ratio, "problems": result["problems"], "bot_rss": result["bot_rss"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 commands, a small fresh database; no docs")
    args = parser.parse_args(argv)
    return 1 if run(args.quick)["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
