"""A counter added through the field table alone carries through every layer.

A scratch copy of the packages gets one more line in `tracking.fields.COUNTER_TABLE` and the schema version
that adds its column (the one the store's design needs: released schema versions are frozen, so this test
registers the next one, adding the column to the latest schema's tables that hold the counters). Nothing else
is edited. A script run on that copy records the new count with `record()`, posts it to the HTTP collector,
sends it with an HTTP tracker and loads it with `usage-bot ingest`; it prints what each layer holds: the
stored rows, every rollup table, the report as JSON and CSV, and the CSV export of raw events.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from genai_prices import Usage, calc_price

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.fields import COUNTERS
from matrix_usage_bot.tracking.store.schema import LATEST, SQLITE, upgrade_table

NEW = "input_video_tokens"
"""A genai-prices `Usage` key the field table does not hold yet: the video part of the input."""
LINE = f'Counter("{NEW}", "input_tokens", "modality"),'
"""Its line in the field table."""
PROVIDER, MODEL = "google", "gemini-3.1-flash-live-preview"
"""A model that prices video input apart."""
TS = 1_790_000_000.0  # 2026-09-21
SENT = {"recorded": 70, "posted": 110, "tracked": 130, "ingested": 170}
CALL = {"provider": PROVIDER, "model": MODEL, "input_tokens": 1000, "output_tokens": 5, "room_id": "!a:x"}

SCRIPT = textwrap.dedent(
    """
    import asyncio, contextlib, csv, io, json, sqlite3, sys
    from zoneinfo import ZoneInfo

    import aiohttp

    from matrix_usage_bot import tracking
    from matrix_usage_bot.bot.cli import main as cli
    from matrix_usage_bot.bot.config import Config
    from matrix_usage_bot.bot.http.server import UsageServer
    from matrix_usage_bot.bot.render.export import events_csv
    from matrix_usage_bot.tracking.store import Filters, open_store

    NEW, DB, SCRATCH, TS = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    SENT = json.loads(sys.argv[5])
    URL, KEY = f"sqlite:///{DB}", "writer-key-0123456789abcdef"
    assert tracking.__file__.startswith(SCRATCH), tracking.__file__
    CALL = json.loads(sys.argv[6])


    async def write() -> None:
        async with tracking.Tracker(URL) as tracker:
            tracker.record(**CALL, ts=TS, event_id="recorded", **{NEW: SENT["recorded"]})
        http = {"enabled": True, "listen": "127.0.0.1:0",
                "keys": [{"name": "writer", "key": KEY, "rooms": "all", "ingest": True}]}
        server = await UsageServer(Config.model_validate({"storage": {"url": URL}, "http": http})).start()
        collector = f"http://127.0.0.1:{server.port}"
        try:
            event = {**CALL, "ts": TS + 1, "event_id": "posted", NEW: SENT["posted"]}
            async with aiohttp.ClientSession() as session:
                async with session.post(f"{collector}/v1/events", json=event,
                                        headers={"Authorization": f"Bearer {KEY}"}) as answer:
                    assert answer.status == 200, await answer.text()
            async with tracking.Tracker(collector, api_key=KEY, spool=DB + ".spool") as tracker:
                tracker.record(**CALL, ts=TS + 2, event_id="tracked", **{NEW: SENT["tracked"]})
        finally:
            await server.close()


    def run_cli(*argv: str, stdin: str = "") -> str:
        out = io.StringIO()
        sys.stdin = io.StringIO(stdin)
        with contextlib.redirect_stdout(out):
            assert cli(list(argv)) == 0
        return out.getvalue()


    async def export() -> list[dict[str, str]]:
        store = await open_store(URL)
        try:
            made = await events_csv(store.iter_events(0, 2**53, Filters()), ZoneInfo("UTC"))
        finally:
            await store.close()
        return list(csv.DictReader(io.StringIO(made.data.decode())))


    asyncio.run(write())
    line = json.dumps({**CALL, "ts": TS + 3, "event_id": "ingested", NEW: SENT["ingested"]})
    run_cli("ingest", "--db", URL, stdin=line + "\\n")
    report = json.loads(run_cli("report", "--db", URL, "--period", "all", "--format", "json"))
    by_agent = list(csv.DictReader(io.StringIO(run_cli("report", "--db", URL, "--period", "all", "--by", "room",
                                                       "--format", "csv"))))
    with sqlite3.connect(DB) as conn:
        stored = {e: (n, c) for e, n, c in conn.execute(f"SELECT event_id, {NEW}, cost_pusd FROM events")}
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                  if t.startswith("rollup_") and NEW in [c[1] for c in conn.execute(f"PRAGMA table_info({t})")]]
        rollups = {t: conn.execute(f"SELECT sum({NEW}) FROM {t}").fetchone()[0] for t in tables}
    print(json.dumps({"stored": stored, "rollups": rollups, "report_json": report["totals"][NEW],
                      "report_csv": [row[NEW] for row in by_agent],
                      "export": {row["event_id"]: row[NEW] for row in asyncio.run(export())}}))
    """
)


def _counter_tables() -> list[str]:
    """The tables of the latest schema that hold every counter: those the new counter's migration widens."""
    conn = sqlite3.connect(":memory:")
    for statement in upgrade_table.plan(0)[0].statements(SQLITE):
        conn.execute(statement)
    names = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return [name for name in names if set(COUNTERS) <= {c[1] for c in conn.execute(f"PRAGMA table_info({name})")}]


def scratch_copy(root: Path) -> Path:
    """The package copied, with the new counter's line in the field table and its migration."""
    source = Path(tracking.__file__).parent.parent
    shutil.copytree(source, root / "matrix_usage_bot", ignore=shutil.ignore_patterns("__pycache__"))
    fields = root / "matrix_usage_bot" / "tracking" / "fields.py"
    text = fields.read_text()
    last = '    Counter("web_searches"),'
    assert text.count(last) == 1
    fields.write_text(text.replace(last, f"    {LINE}\n{last}"))
    added = [f"ALTER TABLE {table} ADD COLUMN {NEW} BIGINT NOT NULL DEFAULT 0" for table in _counter_tables()]
    with (root / "matrix_usage_bot" / "tracking" / "store" / "schema" / "v10.py").open("a") as versions:
        versions.write(f"\n\n@upgrade_table.register({LATEST + 1}, {NEW!r})\n"
                       f"def with_new_counter(d: Dialect) -> list[str]:\n    return {added!r}\n")
    return root


def test_a_counter_added_to_the_field_table_reaches_every_layer(tmp_path):
    assert NEW not in COUNTERS
    root = scratch_copy(tmp_path / "scratch")
    environment = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    ran = subprocess.run([sys.executable, "-c", SCRIPT, NEW, str(tmp_path / "u.db"), str(root), str(TS),
                          json.dumps(SENT), json.dumps(CALL)], capture_output=True, text=True, cwd=root,
                         env=environment, timeout=300)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    got = json.loads(ran.stdout)
    total = sum(SENT.values())
    assert {event_id: count for event_id, (count, _) in got["stored"].items()} == SENT
    assert set(got["rollups"]) == {t for t in _counter_tables() if t.startswith("rollup_")}
    assert set(got["rollups"].values()) == {total}
    assert got["report_json"] == total
    assert got["report_csv"] == [str(total)]
    assert got["export"] == {**{event_id: str(count) for event_id, count in SENT.items()}, "TOTAL": str(total)}
    for n, event_id in enumerate(SENT):  # priced with the new count, each at its own time
        when = datetime.fromtimestamp(TS + n, UTC)
        price = calc_price(Usage(input_tokens=1000, output_tokens=5, **{NEW: SENT[event_id]}), MODEL,
                           provider_id=PROVIDER, genai_request_timestamp=when).total_price  # fmt: skip
        without = calc_price(Usage(input_tokens=1000, output_tokens=5), MODEL, provider_id=PROVIDER,
                             genai_request_timestamp=when).total_price  # fmt: skip
        assert price != without
        assert Decimal(got["stored"][event_id][1]) / 10**12 == price, event_id
