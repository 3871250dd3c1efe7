"""The breakdowns people ask for, against the real Synapse, asserted exactly: operations, hours, `Nh`,
models with error calls and latency, estimated calls counted apart, and the month-end projection."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import pytest

from .conftest import BOTH_BACKENDS, record
from .test_commands_e2e import ask

pytestmark = pytest.mark.synapse

NOW = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)  # 01:00 on 11 November in Berlin, the bot's timezone
CALLS = [  # gpt-4o: $2.50 per million input tokens
    {"ts": datetime(2026, 11, 2, 10, tzinfo=UTC), "input_tokens": 1_000_000, "latency_ms": 800.0},
    {"ts": datetime(2026, 11, 5, 10, tzinfo=UTC), "input_tokens": 1_000_000, "latency_ms": 1200.0},
    {"ts": datetime(2026, 11, 8, 10, tzinfo=UTC), "input_tokens": 1_000_000, "latency_ms": 2000.0,
     "operation": "summary", "status": "error"},
    {"ts": datetime(2026, 11, 10, 23, 30, tzinfo=UTC), "input_tokens": 400_000, "latency_ms": 300.0,
     "operation": "embedding", "usage_source": "estimated"},
]  # fmt: skip


def row(body: str, key: str) -> list[str]:
    """The cells of a plain-text table row (columns are two or more spaces apart)."""
    for line in body.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if cells[0] == key:
            return cells
    raise AssertionError(f"no row {key!r} in:\n{body}")


def bucket_middle_ms(latency_ms: float) -> float:
    """The documented histogram: bucket b holds (2^((b-1)/8), 2^(b/8)] ms and stands for 2^((b-0.5)/8)."""
    b = math.ceil(math.log2(latency_ms) * 8)
    return 2 ** ((b - 0.5) / 8)


@BOTH_BACKENDS
async def test_breakdowns_latency_estimates_and_projection(make_user, make_usage_bot, agents):
    alice = await make_user("alice")
    bot = await make_usage_bot(clock=lambda: NOW)
    room = await alice.room_with(bot)
    for i, call in enumerate(CALLS):
        record(agents, room, agent="researcher", event_id=f"acc-{i}", **call)
    await agents.flush()

    summary = await ask(alice, bot, room, "!usage")
    assert "Today: 1 call · 400k tokens (400k in, 0 out) · $1.00 (1 call estimated: no usage reported)" in summary.body
    assert "November 2026: 4 calls · 3.4M tokens (3.4M in, 0 out) · $8.50 (1 call estimated" in summary.body
    # $8.50 in the 241 hours since 1 November 00:00 Berlin (31 October 23:00 UTC), of the month's 720
    assert 8.5 * 720 / 241 == pytest.approx(25.39, abs=0.01)
    assert "At this pace: about $25 by 30 November" in summary.body

    last_hours = await ask(alice, bot, room, "!usage 3h")
    assert "1 call · 400k tokens (400k in, 0 out) · $1.00 (1 call estimated" in last_hours.body
    assert "At this pace" not in last_hours.body

    ops = await ask(alice, bot, room, "!usage operations")
    # Operation, Calls, Input, Output, Total, Cost, Unpriced, Estimated, Errors
    assert row(ops.body, "chat") == ["chat", "2", "2,000,000", "0", "2,000,000", "$5.00", "0", "0", "0"]
    assert row(ops.body, "summary") == ["summary", "1", "1,000,000", "0", "1,000,000", "$2.50", "0", "0", "1"]
    assert row(ops.body, "embedding") == ["embedding", "1", "400,000", "0", "400,000", "$1.00", "0", "1", "0"]

    hours = await ask(alice, bot, room, "!usage hours 2026-11-08")
    assert row(hours.body, "2026-11-08 11:00")[:2] == ["2026-11-08 11:00", "1"]  # 10:00 UTC is 11:00 in Berlin
    assert "Usage in this room by hour" in hours.body
    today = await ask(alice, bot, room, "!usage hours")  # today by default: the estimated call at 00:30 Berlin
    assert row(today.body, "2026-11-11 00:00")[:2] == ["2026-11-11 00:00", "1"] and "2026-11-08" not in today.body

    models = await ask(alice, bot, room, "!usage models")
    cells = row(models.body, "gpt-4o")
    assert cells[:9] == ["gpt-4o", "4", "3,400,000", "0", "3,400,000", "$8.50", "0", "1", "1"]
    # latencies 300, 800, 1200, 2000 ms: the median is the 2nd (800 ms), the p95 the 4th (2000 ms)
    median, p95 = bucket_middle_ms(800), bucket_middle_ms(2000)
    assert cells[9:] == [f"{median:,.0f} ms", f"{p95 / 1000:,.2f} s"] == ["825 ms", "1.96 s"]
    assert "Median" in models.body and "p95" in models.body
