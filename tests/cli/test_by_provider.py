"""`report --by provider`: one row per provider, exact tokens and genai-prices' cost at each event's time."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from genai_prices import Usage, calc_price

from .test_cli import run

TS = datetime(2026, 11, 20, 10, tzinfo=UTC)
CALLS = [
    {"provider": "openai", "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 100},
    {"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 3000, "output_tokens": 300},
    {"provider": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 2000, "output_tokens": 50},
]


def price(call: dict) -> Decimal:
    usage = Usage(input_tokens=call["input_tokens"], output_tokens=call["output_tokens"])
    return calc_price(usage, call["model"], provider_id=call["provider"], genai_request_timestamp=TS).total_price


def test_report_by_provider(tmp_path):
    db = f"sqlite:///{tmp_path / 'u.db'}"
    lines = "\n".join(json.dumps({**c, "room_id": "!r:x", "ts": TS.isoformat()}) for c in CALLS)
    assert run("ingest", "--db", db, stdin=lines).stdout.strip() == "stored 3, duplicates 0, skipped 0"
    out = run("report", "--db", db, "--period", "2026-11", "--by", "provider", "--format", "json")
    rows = {row["key"]: row for row in json.loads(out.stdout)["rows"]}
    assert set(rows) == {"openai", "anthropic"}
    assert (rows["openai"]["calls"], rows["openai"]["total_tokens"]) == (2, 4400)
    assert (rows["anthropic"]["calls"], rows["anthropic"]["total_tokens"]) == (1, 2050)
    assert Decimal(str(rows["openai"]["cost_usd"])) == price(CALLS[0]) + price(CALLS[1])
    assert Decimal(str(rows["anthropic"]["cost_usd"])) == price(CALLS[2])
