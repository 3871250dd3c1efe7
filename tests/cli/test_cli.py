"""`usage-bot` end to end: ingest, then report, as users run it (in the test's process, see tests/usagebot.py;
the last test runs a real process)."""

import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from genai_prices import Usage, calc_price

from tests.command import USAGE_BOT
from tests.usagebot import Ran, usage_bot

FIXTURE = [
    # room A, two agents, two models, two days; one duplicate
    {"event_id": "a1", "ts": "2026-10-03T09:00:00Z", "provider": "openai", "model": "gpt-4o", "input_tokens": 1200,
     "output_tokens": 300, "cache_read_tokens": 200, "reasoning_tokens": 0, "room_id": "!a:x", "agent": "researcher"},
    {"event_id": "a1", "ts": "2026-10-03T09:00:00Z", "provider": "openai", "model": "gpt-4o", "input_tokens": 1200,
     "output_tokens": 300, "cache_read_tokens": 200, "reasoning_tokens": 0, "room_id": "!a:x", "agent": "researcher"},
    {"event_id": "a2", "ts": "2026-10-04T22:30:00Z", "provider": "anthropic", "model": "claude-sonnet-4-5",
     "input_tokens": 5000, "output_tokens": 400, "cache_read_tokens": 3000, "cache_write_tokens": 1000,
     "room_id": "!a:x", "agent": "coder", "thread_id": "$root"},
    {"event_id": "a3", "ts": "2026-10-05T10:00:00Z", "provider": "ollama", "model": "llama3.1:8b",
     "input_tokens": 800, "output_tokens": 100, "room_id": "!a:x", "agent": "coder"},
    {"event_id": "a4", "ts": "2026-10-05T11:00:00Z", "provider": "mystery", "model": "unknown-model",
     "input_tokens": 50, "output_tokens": 5, "room_id": "!a:x", "agent": "researcher"},
    # room B
    {"event_id": "b1", "ts": "2026-10-05T12:00:00Z", "provider": "openai", "model": "gpt-4o-mini",
     "input_tokens": 10000, "output_tokens": 2000, "reasoning_tokens": 0, "room_id": "!b:x", "agent": "helper"},
    # another month
    {"event_id": "c1", "ts": "2026-09-30T12:00:00Z", "provider": "openai", "model": "gpt-4o", "input_tokens": 1,
     "output_tokens": 1, "room_id": "!a:x", "agent": "researcher"},
]  # fmt: skip
CONFIG = """
bot:
  timezone: Europe/Berlin
storage:
  url: sqlite:///{db}
pricing:
  overrides:
    - match: "ollama/*"
      input: 0.5
      output: 2
"""


def run(*args: str, stdin: str | None = None, cwd: Path | None = None) -> Ran:
    return usage_bot(*args, stdin=stdin, cwd=cwd)


def price(provider, model, inp, out, cr=0, cw=0, part="total_price"):
    usage = Usage(input_tokens=inp, output_tokens=out, cache_read_tokens=cr, cache_write_tokens=cw)
    from datetime import UTC, datetime

    when = datetime(2026, 10, 4, tzinfo=UTC)
    return getattr(calc_price(usage, model, provider_id=provider, genai_request_timestamp=when), part)


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(db=tmp_path / "data" / "usage.db"))
    ingest = run("ingest", "-c", str(path), stdin="\n".join(json.dumps(e) for e in FIXTURE) + "\n")
    assert ingest.returncode == 0, ingest.stderr
    assert ingest.stdout.strip() == "stored 6, duplicates 1, skipped 0"
    return path


def test_ingest_then_json_report_exact(config):
    out = run("report", "-c", str(config), "--room", "!a:x", "--period", "2026-10", "--by", "agent", "--format", "json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["period"] == {"start": "2026-10-01T00:00:00+02:00", "end": "2026-11-01T00:00:00+01:00"} or report[
        "period"
    ] == {"start": "2026-09-30T22:00:00+00:00", "end": "2026-10-31T23:00:00+00:00"}
    gpt4o = price("openai", "gpt-4o", 1200, 300, cr=200)
    sonnet = price("anthropic", "claude-sonnet-4-5", 5000, 400, cr=3000, cw=1000)
    ollama = (Decimal(800) * Decimal("0.5") + Decimal(100) * 2) / 1_000_000
    assert gpt4o == Decimal("0.00575")
    totals = report["totals"]
    output = (price("openai", "gpt-4o", 1200, 300, cr=200, part="output_price")
              + price("anthropic", "claude-sonnet-4-5", 5000, 400, cr=3000, cw=1000, part="output_price")
              + Decimal(100) * 2 / 1_000_000)  # fmt: skip
    assert totals == {
        "key": None, "calls": 4, "input_tokens": 7050, "output_tokens": 805, "total_tokens": 7855,
        "cache_read_tokens": 3200, "cache_write_tokens": 1000, "cache_write_1h_tokens": 0, "reasoning_tokens": 0,
        "input_audio_tokens": 0, "output_audio_tokens": 0, "input_image_tokens": 0, "output_image_tokens": 0,
        "web_searches": 0, "cost_usd": float(gpt4o + sonnet + ollama),
        "input_cost_usd": float(gpt4o + sonnet + ollama - output), "output_cost_usd": float(output),
        "unpriced_calls": 1, "estimated_calls": 0, "error_calls": 0,
    }  # fmt: skip
    rows = {r["key"]: r for r in report["rows"]}
    assert set(rows) == {"researcher", "coder"}
    assert rows["coder"]["cost_usd"] == float(sonnet + ollama) and rows["coder"]["unpriced_calls"] == 0
    assert rows["researcher"]["cost_usd"] == float(gpt4o) and rows["researcher"]["unpriced_calls"] == 1
    assert rows["researcher"]["calls"] == 2 and rows["researcher"]["input_tokens"] == 1250


def test_report_by_day_uses_configured_timezone(config):
    out = run("report", "-c", str(config), "--room", "!a:x", "--period", "2026-10", "--by", "day", "--format", "json")
    days = {r["key"]: r["calls"] for r in json.loads(out.stdout)["rows"]}
    # 22:30 UTC on 4 October is 00:30 on 5 October in Berlin.
    assert days == {"2026-10-03": 1, "2026-10-05": 3}


def test_rooms_and_csv(config):
    out = run("report", "-c", str(config), "--period", "all", "--by", "room", "--format", "csv")
    lines = out.stdout.strip().splitlines()
    assert lines[0] == (
        "key,calls,input_tokens,output_tokens,total_tokens,cache_read_tokens,cache_write_tokens,"
        "cache_write_1h_tokens,reasoning_tokens,input_audio_tokens,output_audio_tokens,input_image_tokens,"
        "output_image_tokens,web_searches,cost_usd,input_cost_usd,output_cost_usd,unpriced_calls,estimated_calls,"
        "error_calls"
    )
    assert lines[1].startswith("!a:x,5,7051,806,7857,3200,1000,0,0,0,0,0,0,0,")  # most expensive first
    mini = price("openai", "gpt-4o-mini", 10000, 2000)
    mini_in, mini_out = (price("openai", "gpt-4o-mini", 10000, 2000, part=p) for p in ("input_price", "output_price"))
    assert lines[2] == f"!b:x,1,10000,2000,12000,0,0,0,0,0,0,0,0,0,{mini},{mini_in},{mini_out},0,0,0"
    table = run("report", "-c", str(config), "--period", "all", "--by", "model")
    assert table.returncode == 0 and "claude-sonnet-4-5" in table.stdout and "TOTAL" in table.stdout


def test_bad_input_lines_are_numbered_and_good_lines_kept(tmp_path):
    lines = [json.dumps(FIXTURE[0]), "{broken", json.dumps({**FIXTURE[2], "input_tokens": -3}), "[1]",
             json.dumps({**FIXTURE[5], "colour": "red"}), json.dumps(FIXTURE[6])]  # fmt: skip
    out = run("ingest", "--db", f"sqlite:///{tmp_path / 'u.db'}", stdin="\n".join(lines))
    assert out.returncode == 1  # some lines skipped
    assert out.stdout.strip() == "stored 2, duplicates 0, skipped 4"
    assert out.stderr.splitlines() == [
        "usage-bot ingest: skipped line 2: not valid JSON"
        " (Expecting property name enclosed in double quotes at column 2)",
        "usage-bot ingest: skipped line 3: input_tokens: must not be negative, got -3",
        "usage-bot ingest: skipped line 4: each line must be a JSON object",
        "usage-bot ingest: skipped line 5: colour: unknown field",
    ]



def test_lines_of_any_shape_are_reported_never_a_traceback(tmp_path):
    """Found in the attack pass (on the collector, whose body is read the same way): an integer of
    thousands of digits, or nesting deeper than Python's reader goes, raised instead of being refused."""
    good = json.dumps(FIXTURE[1])
    lines = [good[:-1] + ', "latency_ms": ' + "4" * 4500 + "}", "[" * 3000 + "]" * 3000,
             good[:-1] + ', "latency_ms": NaN}', good[:-1] + ', "latency_ms": 1e400}', json.dumps(FIXTURE[3])]
    out = run("ingest", "--db", f"sqlite:///{tmp_path / 'u.db'}", stdin="\n".join(lines))
    assert (out.returncode, out.stdout.strip()) == (1, "stored 1, duplicates 0, skipped 4")
    assert out.stderr.splitlines() == [
        "usage-bot ingest: skipped line 1: not valid JSON (a number of more than 4,300 digits)",
        "usage-bot ingest: skipped line 2: not valid JSON (nested too deeply)",
        "usage-bot ingest: skipped line 3: not valid JSON (NaN is not a JSON number)",
        "usage-bot ingest: skipped line 4: latency_ms: must be a finite number of milliseconds, at least 0, got inf",
    ]

@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "--db", "sqlite:///x.db", "--period", "fortnight"], "unknown period 'fortnight'"),
        (["report", "--db", "sqlite:///missing.db"], "no usage database at missing.db"),
        (["report"], "one of the arguments -c/--config --db is required"),
        (["report", "--db", "x.db", "--by", "colour"], "argument --by: invalid choice: 'colour'"),
        (["report", "--db", "mysql://h/db"], "unsupported scheme 'mysql'"),
        (["report", "-c", "nope.yaml"], "nope.yaml: cannot read the config file"),
        (["report", "--db", "x.db", "--tz", "Mars/Base"], "unknown timezone 'Mars/Base'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, args, message):
    out = run(*args, cwd=tmp_path)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_corrupt_database_is_one_clear_line_and_status_2_from_a_real_process(tmp_path):
    """The one test here that starts usage-bot as a process: main()'s status is the process's, its line on stderr."""
    (tmp_path / "bad.db").write_bytes(b"\x00garbage" * 64)
    out = subprocess.run([*USAGE_BOT, "report", "--db", "bad.db"], capture_output=True,
                         text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
                         timeout=60)  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "usage-bot report: bad.db is not a usage database (not SQLite, or corrupt): file is not a database"
    )
