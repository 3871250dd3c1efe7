"""`usage-bot demo` runs to the end on its own throwaway homeserver, with exact figures."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .usage.browser import not_blank

pytestmark = pytest.mark.synapse


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_demo_runs_to_the_end(request, backend, tmp_path):
    db = ["--db", request.getfixturevalue("pg_url")] if backend == "postgresql" else []
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", *db, "--out", str(tmp_path)], capture_output=True, text=True,
        timeout=240, check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    # researcher: gpt-4o 1,000 + 200 cached in, 300 out, then 2,400 in, 500 out = $0.01675 exactly, shown
    # to two significant digits; the total is $0.017632
    words = " ".join(text.split())
    assert "researcher 2 3,600 800 4,400 $0.017 0" in words and "Total 4 7,400 1,320 8,720 $0.018 0" in words
    assert "usage-bot (in the thread):" in text and "Total           3  6,600   1,200  7,800" in text
    assert "helpdesk" not in text.split("usage-bot (in the thread):")[1]
    # the room's 11k monthly budget: 8,720 tokens are 79%, past the 75% threshold; alice created the room
    warning = "usage-bot (m.text, mentioning @alice:localhost):\n    @alice:localhost: 75% of this room's monthly"
    assert warning + " token budget used: 8.7k of 11k tokens; resets " in text
    assert text.strip().endswith("• cleaned up: homeserver stopped, temporary files removed")
    assert (tmp_path / "transcript.txt").read_text() == text
    # it ends with the room's dashboard link, and a picture of the page beside the transcript
    assert "\nalice: !usage dashboard\nusage-bot:\n    Dashboard of this room: http://127.0.0.1:" in text
    link = text.split("• the dashboard of ")[1].split(": ", 1)[1].split()[0]
    assert "/dashboard/#token=d1." in link and f"• its screenshot: {tmp_path / 'dashboard.png'}" in text
    spread, colours = not_blank((tmp_path / "dashboard.png").read_bytes())
    assert spread > 10 and colours > 100
