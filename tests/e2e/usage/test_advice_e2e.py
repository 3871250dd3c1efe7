"""Advice in the room against the real Synapse: whatif, savings, runway and its early warning, spikes that say why,
and the digest's weekly cheaper-model suggestion. Every figure is genai-prices' calc_price of each call at its own
instant, computed here, compared to the precision the answer shows."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ...money import shown_pico as usd
from ...tracking.advice_calls import pico
from .conftest import BOTH_BACKENDS, record
from .test_quotas_e2e import ask

pytestmark = pytest.mark.synapse


def rows_of(body: str, first: str) -> dict[str, list[str]]:
    """The table rows of a plain answer, by their first cell (cells are two or more spaces apart)."""
    lines = body.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first))
    rows = {}
    for line in lines[start + 2:]:
        if not line.strip() or not re.search(r"\S {2,}\S", line):
            break
        cells = re.split(r" {2,}", line.strip())
        rows[cells[0]] = cells[1:]
    return rows


CALLS = [  # agent, provider, model, instant, input, output, cache read
    ("scout", "openai", "gpt-4o", datetime(2026, 10, 6, 7, 41, 3, tzinfo=UTC), 18_000, 700, 9_000),
    ("scout", "openai", "gpt-4o", datetime(2026, 10, 13, 16, 45, tzinfo=UTC), 2_400, 90, 0),
    ("<b>writer</b>", "anthropic", "claude-sonnet-4-5", datetime(2026, 10, 21, 23, 55, 59, tzinfo=UTC), 230_000, 1_200,
     150_000),
    ("<b>writer</b>", "deepseek", "deepseek-reasoner", datetime(2026, 10, 22, 17, 4, 12, tzinfo=UTC), 6_100, 2_000,
     4_000),  # DeepSeek off-peak (16:30 to 00:30 UTC)
    ("<b>writer</b>", "ollama", "llama3.3:70b", datetime(2026, 10, 23, 9, 0, tzinfo=UTC), 800, 80, 0),
]  # fmt: skip


def usage(inp: int, out: int, read: int) -> dict[str, int]:
    return {"input_tokens": inp, "output_tokens": out, "cache_read_tokens": read}


@BOTH_BACKENDS
async def test_whatif_and_savings_in_chat(make_user, make_usage_bot, agents):
    alice = await make_user("alice")
    bot = await make_usage_bot()  # Europe/Berlin
    room = await alice.room_with(bot)
    for i, (agent, provider, model, ts, inp, out, read) in enumerate(CALLS):
        record(agents, room, agent=agent, provider=provider, model=model, ts=ts, input_tokens=inp, output_tokens=out,
               cache_read_tokens=read, event_id=f"c{i}")  # fmt: skip
    await agents.flush()

    answer = await ask(alice, bot, room, "!usage whatif deepseek-chat 2026-10")
    then, on = defaultdict(int), defaultdict(int)
    for agent, provider, model, ts, *counts in CALLS:
        then[agent] += pico(provider, model, ts, usage(*counts)) or 0
        on[agent] += pico("deepseek", "deepseek-chat", ts, usage(*counts))
    rows = rows_of(answer.body, "Agent")
    assert rows["scout"] == ["2", usd(then["scout"]), usd(on["scout"]),
                             f"{Decimal(on['scout'] - then['scout']) * 100 / then['scout']:+.1f}%"]  # fmt: skip
    writer = "<b>writer</b>"
    assert rows[writer] == ["3", usd(then[writer]) + " + 1 unpriced call", usd(on[writer])]  # no change: unpriced
    total_then, total_on = sum(then.values()), sum(on.values())
    assert rows["Total"] == ["5", usd(total_then) + " + 1 unpriced call", usd(total_on)]
    assert answer.body.startswith(f"This room's 5 calls in October 2026 cost {usd(total_then)} + 1 unpriced call;"
                                  f" on deepseek/deepseek-chat they would have cost {usd(total_on)}.")  # fmt: skip
    html = answer.source["content"]["formatted_body"]
    assert "&lt;b&gt;writer&lt;/b&gt;" in html and "<b>writer</b>" not in html

    answer = await ask(alice, bot, room, "!usage savings 2026-10")
    rows = rows_of(answer.body, "Agent")
    saved = {}
    for agent, provider, model, ts, inp, out, read in CALLS[:4]:
        made = pico(provider, model, ts, usage(inp, out, read))
        saved[(agent, model)] = saved.get((agent, model), 0) + pico(provider, model, ts, usage(inp, out, 0)) - made
    scout = rows["scout"]
    assert scout[:6] == ["gpt-4o", "2", "20,400", "9,000", "0", f"{Decimal(9_000) * 100 / 20_400:.1f}%"]
    assert scout[6:] == [usd(then["scout"]), usd(saved[("scout", "gpt-4o")])]
    total = sum(saved.values())
    assert rows["Total"][-1] == usd(total)
    hit = Decimal(9_000 + 150_000 + 4_000) * 100 / (20_400 + 230_000 + 6_100 + 800)
    assert answer.body.startswith(f"Prompt caching saved this room {usd(total)} in October 2026") and (
        f"cache hit rate {hit:.1f}%." in answer.body.splitlines()[0])  # fmt: skip

    bad = await ask(alice, bot, room, "!usage whatif")
    assert "missing MODEL" in bad.body and "Usage: !usage whatif MODEL [P]" in bad.body
    unknown = await ask(alice, bot, room, "!usage whatif acme/frontier-9 2026-10")
    assert unknown.body == ("No price is known for acme/frontier-9 (genai-prices or pricing.overrides): none of this"
                            " room's 5 calls in October 2026 can be priced on it.")  # fmt: skip
