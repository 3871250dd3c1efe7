"""`--period all` starts where events may start (2000-01-01 UTC), in the report's timezone, as its help says."""

from __future__ import annotations

import json

from .test_cli import run


def test_all_starts_with_the_first_day_an_event_may_have(tmp_path):
    url = f"sqlite:///{tmp_path / 'u.db'}"
    first = {"ts": "2000-01-01T00:00:00Z", "provider": "openai", "model": "gpt-4o", "input_tokens": 11}
    assert run("ingest", "--db", url, stdin=json.dumps(first)).returncode == 0
    starts = {}
    for tz in ("UTC", "America/New_York", "Asia/Kolkata"):
        out = run("report", "--db", url, "--period", "all", "--tz", tz, "--format", "json")
        body = json.loads(out.stdout)
        assert body["totals"]["input_tokens"] == 11, tz
        starts[tz] = body["period"]["start"]
    assert starts == {"UTC": "2000-01-01T00:00:00+00:00", "America/New_York": "1999-12-31T05:00:00+00:00",
                      "Asia/Kolkata": "1999-12-31T18:30:00+00:00"}  # fmt: skip
    table = run("report", "--db", url, "--period", "all", "--tz", "UTC").stdout
    assert table.splitlines()[0].startswith("Usage: all time (2000-01-01 00:00 UTC to ")
    help_text = " ".join(run("report", "--help").stdout.split())
    assert "all (every event: from 2000-01-01 UTC)" in help_text
