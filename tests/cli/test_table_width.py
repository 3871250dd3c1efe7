"""The terminal table fits 100 columns: exact counts while they fit, then token counts in short, then long
names elided in the middle, always told apart."""

from __future__ import annotations

import json

import pytest

from .test_cli import run

SERVER = ":matrix.research-institute.example.org"
ROOMS = [
    "!QvTpWlXbRzKmNcYhJdFs" + "Ga" * 12 + SERVER,  # these two differ only in their first characters
    "!HxEuRoLiPwSaTgVbNmKq" + "Ga" * 12 + SERVER,
    "!qUaRtErLyReViEwRoOm" + SERVER,  # these two only in their server
    "!qUaRtErLyReViEwRoOm" + SERVER.replace("example", "exampla"),
]


@pytest.fixture
def busy(tmp_path):
    url = f"sqlite:///{tmp_path / 'u.db'}"
    events = [{"provider": "openai", "model": f"ft:gpt-4o-mini-2024-07-18:acme-research:summarizer-v{n}:AbC123",
               "input_tokens": 987_654_321, "output_tokens": 123_456_789, "cache_read_tokens": 555_555_555,
               "reasoning_tokens": 98_765_432, "cost_usd": 43_210.98, "room_id": room, "thread_id": f"${room[1:]}",
               "ts": f"2026-10-{1 + n:02d}T0{k}:00:00Z"}
              for n, room in enumerate(ROOMS) for k in range(9)]  # fmt: skip
    assert run("ingest", "--db", url, stdin="\n".join(json.dumps(e) for e in events)).returncode == 0
    return url


@pytest.mark.parametrize("group", ["room", "thread", "model"])
def test_the_widest_reports_fit_100_columns_and_names_stay_apart(busy, group):
    out = run("report", "--db", busy, "--period", "2026-10", "--by", group)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert max(len(line) for line in lines[1:]) <= 100, "\n" + out.stdout
    names = [line.split()[0] for line in lines[3:-1]]
    assert len(set(names)) == 4 and lines[-1].startswith("TOTAL")
    assert lines[-1].split()[1:3] == ["36", "35.6B"]  # 36 calls of 987,654,321 input tokens, in short
    assert all("…" in name for name in names)


def test_a_small_report_keeps_exact_counts(tmp_path):
    url = f"sqlite:///{tmp_path / 'u.db'}"
    event = {"provider": "openai", "model": "gpt-4o", "input_tokens": 12_345, "output_tokens": 678, "room_id": "!r:hs"}
    assert run("ingest", "--db", url, stdin=json.dumps(event)).returncode == 0
    lines = run("report", "--db", url, "--period", "all", "--by", "room").stdout.splitlines()
    assert lines[1].split() == ["Room", "Calls", "Input", "Output", "Cached", "Reasoning", "Cost", "Unpriced",
                                "Estimated", "Errors"]  # fmt: skip
    assert lines[3].split()[:4] == ["!r:hs", "1", "12,345", "678"]
