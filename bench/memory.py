"""Memory: the usage bot's peak RSS (VmHWM of its own process, `usage-bot run -c config.yaml`) while it
answers every report command, the admin views included, on the 10M-event database.

    .venv/bin/python -m bench.memory            # the 10M-event database
    .venv/bin/python -m bench.memory --quick    # a fresh small database; writes nothing
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from contextlib import AsyncExitStack
from pathlib import Path

from . import botbench, common, querydb

TARGET_MB = 150
BIG = 10_000_000
COMMANDS = ["!usage", "!usage agents month", "!usage models month", "!usage users month", "!usage threads month",
            "!usage days month", "!usage me month", "!usage rooms month", "!usage all month", "!usage rooms 90d",
            "!usage all 90d", "!usage models all", "!usage rooms all", "!usage quota", "!usage help"]  # fmt: skip


async def measure(db: Path, rounds: int, workdir: Path) -> dict:
    async with AsyncExitStack() as stack:
        s = await botbench.open_session(stack, db, workdir, seed_events=5_000)
        await s.client.ask(s.room_bot, "!usage help")
        idle = common.rss_kib(s.bot_proc.pid)
        problems, slowest = [], {}
        for _ in range(rounds):
            for command in COMMANDS:
                seconds, body = await s.client.ask(s.room_bot, command, timeout=300)
                slowest[command] = max(slowest.get(command, 0.0), seconds * 1000)
                if "Traceback" in body or body.lower().startswith(("sorry", "error")):
                    problems.append(f"{command}: {body[:80]!r}")
        after = common.rss_kib(s.bot_proc.pid)
        return {"idle": idle, "after": after, "problems": sorted(set(problems)), "slowest": slowest}


def run(quick: bool = False, doc: Path | None = common.DOC) -> dict:
    with botbench.tempdir() as tmp:
        workdir = Path(tmp)
        if quick:
            db, events = workdir / "usage.db", 0
        else:
            db = common.CACHE / f"queries-{BIG}.db"
            events = querydb.build(db, BIG)["events"]
        result = asyncio.run(measure(db, 1 if quick else 3, workdir))
    peak_mb = result["after"]["VmHWM"] / 1024
    idle_mb = result["idle"]["VmRSS"] / 1024
    met = peak_mb <= TARGET_MB
    print(f"bot RSS after start {idle_mb:.0f} MB; peak (VmHWM) {peak_mb:.0f} MB; target <= {TARGET_MB} MB"
          f" {'met' if met else 'MISSED'}")  # fmt: skip
    for command, ms in result["slowest"].items():
        print(f"  {command}: slowest answer {ms:.0f} ms")
    for problem in result["problems"]:
        print("PROBLEM:", problem)
    body = common.table(
        ["usage bot process", "MB", "target"],
        [["RSS once ready (after `!usage help`)", f"{idle_mb:.0f}", ""],
         ["peak RSS (VmHWM) after every command below, 3 rounds", f"**{peak_mb:.0f}**",
          f"≤ {TARGET_MB} MB: {'met' if met else 'missed'}"]],
    )  # fmt: skip
    body += (
        f"\n\nThe bot ran as `usage-bot run -c config.yaml` against the {events:,}-event database (plus 5,000 events"
        " of the benchmark's room), read from `/proc/PID/status`. Commands, the bench user being a bot admin: "
        + ", ".join(f"`{c}`" for c in COMMANDS)
        + ". Slowest answer (send → reply) per command: "
        + ", ".join(f"`{c}` {ms:.0f} ms" for c, ms in result["slowest"].items())
        + "."
    )
    common.write_section("memory", "Memory", body, None if quick else doc)
    return {"peak_mb": peak_mb, "idle_mb": idle_mb, "problems": result["problems"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small fresh database; no docs")
    args = parser.parse_args(argv)
    return 1 if run(args.quick)["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
