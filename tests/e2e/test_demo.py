"""`usage-bot demo` runs to the end on its own throwaway homeserver, with exact figures."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from tests.command import USAGE_BOT

from .usage.browser import not_blank

pytestmark = pytest.mark.synapse


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_demo_runs_to_the_end(request, backend, tmp_path):
    db = ["--db", request.getfixturevalue("pg_url")] if backend == "postgresql" else []
    started = datetime.now(UTC)
    out = subprocess.run(
        [*USAGE_BOT, "demo", *db, "--out", str(tmp_path)], capture_output=True, text=True,
        timeout=240, check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    # today, researcher: gpt-4o 1,000 + 200 cached in, 300 out, then 2,400 in, 500 out = $0.01675 exactly, shown
    # to two significant digits; the total is $0.017632
    words = " ".join(text.split())
    assert "researcher 2 3,600 800 4,400 $0.017 0" in words and "Total 4 7,400 1,320 8,720 $0.018 0" in words
    assert "usage-bot (in the thread):" in text and "Total           3  6,600   1,200  7,800" in text
    assert "helpdesk" not in text.split("usage-bot (in the thread):")[1].split("alice: !usage quota")[0]
    # the room's 11k daily budget: today's 8,720 tokens are 79%, past the 75% threshold; alice created the room
    warning = "usage-bot (m.text, mentioning @alice:localhost):\n    @alice:localhost: 75% of this room's daily"
    assert warning + " token budget used: 8.7k of 11k tokens; resets " in text
    quota = text.split("alice: !usage quota\nusage-bot:\n")[1]
    assert "    this room's daily token budget  8.7k    11k     79%  " in quota
    assert runway(quota) in expected_runways(started, datetime.now(UTC))
    # yesterday's three calls, recorded with their time: gpt-4o 8,100 in, 1,550 out = $0.03575; gpt-4o-mini
    # 4,200 in, 500 out = $0.00093 (at $2.50 / $10 and $0.15 / $0.60 per million tokens)
    digest = text.split("alice: !usage digest now\nusage-bot:\n")[1]
    assert ": 3 calls · 14.4k tokens (12.3k in, 2.1k out) · $0.037" in digest.splitlines()[0]
    assert "Total 3 12,300 2,050 14,350 $0.037 0" in " ".join(digest.split())
    chart = text.split("alice: !usage chart 7d\nusage-bot (m.image, saved to ")[1]
    assert chart.startswith(f"{tmp_path / 'chart.png'}):") and "23.1k tokens · $0.054 · 7 calls" in chart
    assert (tmp_path / "chart.png").read_bytes().startswith(b"\x89PNG")
    export = (tmp_path / "export.csv").read_bytes().decode()
    assert export.count("\r\n") == 9 and export.count(",researcher,") == 4  # a header, 7 events, the total
    assert export.splitlines()[-1].startswith("TOTAL,,,,,,,,,7,19700,3370,23070,")
    assert 'HTTP 200: totals {"calls": 4, "input_tokens": 7400, "output_tokens": 1320, "cost_usd": 0.017632}' in text
    assert "\nWhat next:\n" in text and "usage-bot demo --keep" in text
    assert text.strip().endswith("• cleaned up: homeserver stopped, temporary files removed")
    assert (tmp_path / "transcript.txt").read_text() == text
    # it ends with the room's dashboard link, and a picture of the page beside the transcript
    assert "\nalice: !usage dashboard\nusage-bot:\n    Dashboard of this room: http://127.0.0.1:" in text
    link = text.split("• the dashboard of ")[1].split(": ", 1)[1].split()[0]
    assert "/dashboard/#token=d1." in link and f"• its screenshot: {tmp_path / 'dashboard.png'}" in text
    spread, colours = not_blank((tmp_path / "dashboard.png").read_bytes())
    assert spread > 10 and colours > 100


def runway(quota: str) -> str:
    return "runs out" if "runs out about" in quota else "lasts" if "lasts the window" in quota else quota


def expected_runways(started: datetime, ended: datetime) -> set[str]:
    """At the pace of today (UTC, the demo's zone) so far, 8,720 of 11,000 tokens since midnight run out before
    the day ends only if less than 8,720/11,000 of the day has passed (19:01 UTC); in the evening they last it."""
    midnight = started.replace(hour=0, minute=0, second=0, microsecond=0)
    turn = midnight + timedelta(days=8_720 / 11_000)
    return {"runs out" if moment < turn else "lasts" for moment in (started, ended)}


def test_demo_keep_leaves_the_homeserver_and_bot_up_until_ctrl_c(tmp_path):
    """--keep prints the login and the homeserver takes it while the demo waits; Ctrl-C then cleans up."""
    import json
    import os
    import re
    import signal
    import urllib.request

    demo = subprocess.Popen([*USAGE_BOT, "demo", "--keep", "--out", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    try:
        lines = []
        for line in demo.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("• kept running (--keep): "):
                break
        kept = lines[-1]
        found = re.search(r"log in to (http://127\.0\.0\.1:\d+) as alice, password '([^']+)'", kept)
        assert found, "".join(lines)[-2000:]
        login = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
                 "password": found.group(2)}  # fmt: skip
        request = urllib.request.Request(f"{found.group(1)}/_matrix/client/v3/login", json.dumps(login).encode(),
                                         {"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as resp:
            assert json.load(resp)["user_id"] == "@alice:localhost"
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=120)
        assert demo.returncode == 0
        assert rest.strip().endswith("• cleaned up: homeserver stopped, temporary files removed")
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
