"""`usage-bot delete` and `usage-bot forget` of 1,000,000 events each, on SQLite and PostgreSQL: how long the one
transaction takes, how big it gets (SQLite's WAL at its largest, PostgreSQL's WAL bytes), the command's peak memory,
and the store's size before, after, and after VACUUM.

    .venv/bin/python -m bench.erasure                   # 2,000,000 events (SQLite's built once under .bench/)
    .venv/bin/python -m bench.erasure --quick           # 20,000 events in a temp dir; writes nothing
    .venv/bin/python -m bench.erasure --no-postgresql   # SQLite only

The store is the query benchmark's mix (`bench/querydb.py`) over 400 days, one person asking every other call.
`delete` takes the newest 1,000,000 events of the `tracker` source (`--source tracker --since T`, as for a key
that leaked at T); `forget` erases the person (1,000,000 events). Each runs on a fresh copy, as the real command
in its own process (`--yes`, no terminal: no progress bar); its dry run is timed too.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.dbrows import rollup_mismatches, rows

from . import common, querydb

PERSON = "@erased:example.org"
_ROOM_TOTALS = "SELECT room_id, sum(calls), sum(cost_pusd), sum(input_tokens) FROM rollup_room_daily GROUP BY room_id"


def _mb(size: int) -> str:
    return f"{size / 1e6:,.0f}"


def _cli(*args: str, wal: Path | None = None) -> tuple[float, int, int, str]:
    """(seconds, peak RSS in KiB, the largest size of the `wal` file meanwhile, stdout) of one `usage-bot` run in
    its own process, its memory and the file read every 50 ms."""
    started = time.perf_counter()
    proc = subprocess.Popen([*common.USAGE_BOT, *args], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(common.ROOT)})  # fmt: skip
    peak = {"rss": 0, "wal": 0}

    def watch() -> None:
        while proc.poll() is None:
            try:
                peak["rss"] = max(peak["rss"], common.rss_kib(proc.pid).get("VmHWM", 0))
                peak["wal"] = max(peak["wal"], wal.stat().st_size if wal is not None and wal.exists() else 0)
            except OSError:  # it ended meanwhile
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out = proc.stdout.read() if proc.stdout else ""
    if proc.wait() != 0:
        raise RuntimeError(f"usage-bot {args[0]} failed with status {proc.returncode}: {out[-500:]}")
    seconds = time.perf_counter() - started
    watcher.join()
    return seconds, peak["rss"], peak["wal"], out


def _commands(url: str, since: datetime) -> dict[str, list[str]]:
    return {
        "delete": ["delete", "--db", url, "--source", "tracker", "--since", since.isoformat()],
        "forget": ["forget", "--db", url, "--user", PERSON],
    }


def _sqlite_size(path: Path) -> int:
    """The database file's size once its WAL is written back into it."""
    rows(f"sqlite:///{path}", "PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def _since(url: str, count: int) -> datetime:
    """The time from which the newest `count` events of the store are."""
    ts_ms = rows(url, f"SELECT ts_ms FROM events ORDER BY ts_ms DESC LIMIT 1 OFFSET {count - 1}")[0][0]
    return datetime.fromtimestamp(ts_ms / 1000, UTC)


def _check(url: str, command: str, before: list[tuple], quick: bool, problems: list[str]) -> None:
    if command == "forget":
        if rows(url, f"SELECT count(*) FROM rollup_slots WHERE user_id = '{PERSON}'") != [(0,)]:
            problems.append(f"{url}: forget left the person in the rollups")
        if sorted(rows(url, _ROOM_TOTALS)) != before:
            problems.append(f"{url}: forget changed a room's totals")
    elif rows(url, "SELECT sum(calls) FROM rollup_room_daily") != rows(url, "SELECT count(*) FROM events"):
        problems.append(f"{url}: after delete the rollups do not count the events that remain")
    if quick and set(rollup_mismatches(url).values()) != {0}:
        problems.append(f"{url}: after {command}, a rollup differs from a GROUP BY over the events")


def _sqlite(source: Path, workdir: Path, count: int, quick: bool, problems: list[str]) -> dict[str, dict]:
    results = {}
    for command in ("delete", "forget"):
        work = workdir / "erasure-work.db"
        common.remove_db(work)
        shutil.copyfile(source, work)
        url = f"sqlite:///{work}"
        args = _commands(url, _since(url, count))[command]
        before, size = sorted(rows(url, _ROOM_TOTALS)), _sqlite_size(work)
        dry = _cli(*args)[0]
        seconds, rss, wal, out = _cli(*args, "--yes", wal=Path(f"{work}-wal"))
        _check(url, command, before, quick, problems)
        after = _sqlite_size(work)
        rows(url, "VACUUM")
        results[command] = {"out": out, "dry": dry, "seconds": seconds, "rss_kib": rss, "transaction": wal,
                            "before": size, "after": after, "vacuumed": _sqlite_size(work)}  # fmt: skip
        common.remove_db(work)
    return results


def _postgresql(events: int, count: int, quick: bool, problems: list[str]) -> dict[str, dict]:
    import psycopg

    from . import postgres

    results = {}
    with postgres.server() as pg:
        for command in ("delete", "forget"):
            url = pg.new_database()
            postgres.build(url, events, person=PERSON)
            args = _commands(url, _since(url, count))[command]
            size_sql = "SELECT pg_database_size(current_database())"
            before, size = sorted(rows(url, _ROOM_TOTALS)), rows(url, size_sql)[0][0]
            dry = _cli(*args)[0]
            lsn = rows(url, "SELECT pg_current_wal_lsn()::text")[0][0]
            seconds, rss, _, out = _cli(*args, "--yes")
            wal = rows(url, f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{lsn}')")[0][0]
            _check(url, command, before, quick, problems)
            after = rows(url, size_sql)[0][0]
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("VACUUM")
            results[command] = {"out": out, "dry": dry, "seconds": seconds, "rss_kib": rss, "transaction": int(wal),
                                "before": size, "after": after, "vacuumed": rows(url, size_sql)[0][0]}  # fmt: skip
    return results


def run(quick: bool = False, doc: Path | None = common.DOC, workdir: Path | None = None,
        postgresql: bool = True, events: int | None = None) -> dict:  # fmt: skip
    events = events or (20_000 if quick else 2_000_000)
    count = events // 2
    workdir = workdir or common.CACHE
    source = workdir / f"erasure-{events}.db"
    info = querydb.build(source, events, person=PERSON)
    problems: list[str] = []
    by_backend = {"SQLite": _sqlite(source, workdir, count, quick, problems)}
    if postgresql:
        by_backend["PostgreSQL"] = _postgresql(events, count, quick, problems)
    table = []
    for backend, results in by_backend.items():
        for command, r in results.items():
            changed = re.search(r"([\d,]+) events", r["out"]).group(1)  # type: ignore[union-attr]
            print(f"{backend} {command}: {changed} events in {r['seconds']:.1f} s; {r['out'].strip()[:160]}")
            table.append([backend, f"`{command}`", changed, f"{r['dry']:.1f}", f"**{r['seconds']:.1f}**",
                          f"{r['rss_kib'] / 1024:,.0f}", _mb(r["transaction"]), _mb(r["before"]), _mb(r["after"]),
                          _mb(r["vacuumed"])])  # fmt: skip
    headers = ["store", "command", "events", "dry run s", "`--yes` s", "peak RSS MB", "transaction MB",
               "size before MB", "after MB", "after VACUUM MB"]  # fmt: skip
    body = common.table(headers, table) + (
        f"\n\nThe store: {events:,} events over {info['days']} days of the query benchmark's mix (`bench/querydb.py`),"
        " one person asking every other call. `delete --source tracker --since T --yes`: the newest"
        f" {count:,} events; `forget --user PERSON --yes`: the person's {count:,} events, their rollup rows moved to"
        " no user. Each on a fresh copy, the real command in its own process (its start included in the time, no"
        " terminal: no progress bar), all of it one transaction: writers of every process wait for it (they queue,"
        " and a tracker past `full_wait` spills to its file, nothing lost), readers see the store before it until"
        " it commits. Transaction: SQLite's WAL file at its largest during the command (it holds every page the"
        " transaction changed); PostgreSQL's WAL bytes written (fsync and synchronous commit on). SQLite's file"
        " keeps its freed pages until VACUUM; PostgreSQL's VACUUM makes the dead rows' space reusable. Every run"
        " checked: the person gone from the rollups and every room's totals unchanged (forget), the rollups"
        f" counting exactly the events left (delete) ({'all correct' if not problems else '; '.join(problems)})."
    )
    common.write_section("erasure", "Delete and forget of 1,000,000 events", body, doc)
    for problem in problems:
        print("PROBLEM:", problem)
    return {"results": by_backend, "problems": problems}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 events in a temp dir; no docs")
    parser.add_argument("--no-postgresql", action="store_true", help="SQLite only")
    parser.add_argument("--events", type=int, help="events in the store (default 2,000,000: 1,000,000 changed)")
    args = parser.parse_args(argv)
    if args.quick:
        with tempfile.TemporaryDirectory() as tmp:
            report = run(True, None, Path(tmp), not args.no_postgresql, args.events)
    else:
        report = run(postgresql=not args.no_postgresql, events=args.events)
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
