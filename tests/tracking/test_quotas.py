from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.amounts import parse_amount
from matrix_usage_bot.tracking.quotas import Quota, QuotaExceeded, layered
from matrix_usage_bot.tracking.settings import QuotaSettings, QuotaSpec
from matrix_usage_bot.tracking.store import QuotaRow


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def settings(*specs: dict) -> QuotaSettings:
    return QuotaSettings(defaults=[QuotaSpec(**s) for s in specs])


@pytest.mark.parametrize(
    ("text", "unit", "value"),
    [("200k", "tokens", 200_000), ("1.5m", "tokens", 1_500_000), ("5000", "tokens", 5000), ("$50", "usd", 50),
     ("$12.50", "usd", Decimal("12.5")), ("2M tokens", "tokens", 2_000_000)],
)  # fmt: skip
def test_amounts(text, unit, value):
    amount = parse_amount(text)
    assert (amount.unit, amount.value) == (unit, value)


@pytest.mark.parametrize("text", ["", "lots", "$", "$-5", "1.5k5", "0", "1.5", "-3k", "$0"])
def test_bad_amounts(text):
    with pytest.raises(ValueError, match="amount"):
        parse_amount(text)


def test_room_quotas_replace_and_clear_defaults():
    defaults = [Quota("room", "monthly", parse_amount("2m")), Quota("agent", "daily", parse_amount("$5"), "coder")]
    rows = [
        QuotaRow("!r:x", "room", "", "monthly", "tokens", "500000", True, False),
        QuotaRow("!r:x", "agent", "coder", "daily", "usd", "5", False, True),
        QuotaRow("!r:x", "room", "", "monthly", "usd", "0", False, True),  # clears nothing: no such quota
        QuotaRow("!r:x", "user", "@u:x", "daily", "tokens", "1000", False, False),
    ]
    quotas = layered(defaults, rows=rows)
    assert [(q.scope, q.name, q.limit, q.hard, q.source) for q in quotas] == [
        ("room", "", 500_000, True, "room"),
        ("user", "@u:x", 1000, False, "room"),
    ]


async def test_check_and_enforce_with_calendar_windows(store_url):
    clock = Clock(datetime(2026, 3, 28, 12, tzinfo=UTC))
    quotas = settings(
        {"scope": "room", "window": "daily", "limit": "10k", "hard": True},
        {"scope": "agent", "name": "coder", "window": "monthly", "limit": "$1"},
        {"scope": "global", "window": "monthly", "limit": "1m"},
    )
    async with tracking.Tracker(store_url, quotas=quotas, timezone="Europe/Berlin", clock=clock) as tracker:
        with tracking.attribute(room_id="!r:x", agent="coder"):
            tracker.record(provider="openai", model="gpt-4o", input_tokens=6000, output_tokens=1500,
                           ts=clock.now)  # fmt: skip
            await tracker.flush()
            status = await tracker.check_quota(room_id="!r:x", agent="coder")
            assert status.quota.scope == "room" and status.used == 7500 and status.percent == 75
            assert status.resets == datetime(2026, 3, 29, tzinfo=ZoneInfo("Europe/Berlin"))
            await tracker.enforce_quota()  # 75 %: allowed
            tracker.record(provider="openai", model="gpt-4o", input_tokens=2500, output_tokens=0, ts=clock.now)
            await tracker.flush()
            with pytest.raises(QuotaExceeded) as info:
                await tracker.enforce_quota()
            assert str(info.value) == (
                "this room's daily token budget is used up (10,000 tokens of 10,000 tokens); it resets on 2026-03-29"
            )
            with pytest.raises(QuotaExceeded):
                await __import__("asyncio").to_thread(tracker.enforce_quota_sync)
            other_agent = await tracker.check_quota(room_id="!r:x", agent="writer")
            assert other_agent.quota.scope == "room"
            clock.now = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)  # 00:30 on the 29th in Berlin: a new day
            await tracker.enforce_quota()
            status = await tracker.check_quota(room_id="!r:x", agent="coder")
            # gpt-4o: 6000 in + 1500 out = $0.03 ; 2500 in = $0.00625 -> 3.625 % of $1, below the global 1.0 %
            assert status.quota.scope == "agent" and status.used_amount() == Decimal("0.03625")
        assert (await tracker.check_quota()).quota.scope == "global"


@pytest.mark.parametrize(("limit", "per_million", "tokens", "words"), [
    ("$1500", 1000, 1_500_000, "($1,500 of $1,500)"),  # pico_to_usd gives Decimal('1.5E+3'): once "$1.5E+3"
    ("$500", 1000, 600_000, "($600 of $500)"),
    ("$0.25", 1000, 300, "($0.30 of $0.25)"),
    ("$0.000125", 1, 130, "($0.00013 of $0.000125)"),
])  # fmt: skip
async def test_a_dollar_refusal_reads_like_money(tmp_path, limit, per_million, tokens, words):
    from matrix_usage_bot.tracking.pricing import PriceOverride
    from matrix_usage_bot.tracking.quotas.refusals import refusal_payload

    quotas = QuotaSettings(defaults=[QuotaSpec(scope="room", window="monthly", limit=limit, hard=True)])
    price = [PriceOverride(match="test/*", input=Decimal(per_million), output=Decimal(per_million))]
    async with tracking.Tracker(f"sqlite:///{tmp_path / 'u.db'}", quotas=quotas, price_overrides=price) as tracker:
        with tracking.attribute(room_id="!money:x"):
            tracker.record(provider="test", model="m", input_tokens=tokens, output_tokens=0)
            await tracker.flush()
            with pytest.raises(QuotaExceeded) as info:
                await tracker.enforce_quota()
    assert f"this room's monthly dollar budget is used up {words}; it resets on " in str(info.value)
    payload = refusal_payload(info.value)  # what webhooks and PostHog receive: plain decimal text
    assert Decimal(payload["used"]) == info.value.used and "E" not in payload["used"] + payload["limit"]


async def test_a_call_that_alone_needs_more_than_is_left_is_told_so(store_url):
    """A call refused for needing more than what is left (nothing is used up yet) says what it would need and
    what is left, with what calls under way hold; a used-up quota still says "used up"."""
    from matrix_usage_bot.tracking.quotas.refusals import refusal_payload

    clock = Clock(datetime(2026, 5, 12, 9, tzinfo=UTC))
    quotas = settings({"scope": "room", "window": "daily", "limit": "7k", "hard": True})
    async with tracking.Tracker(store_url, quotas=quotas, timezone="Europe/Berlin", clock=clock) as tracker:
        with tracking.attribute(room_id="!tight:x"):
            tracker.record(provider="openai", model="gpt-4o", input_tokens=1700, output_tokens=300, ts=clock.now)
            await tracker.flush()
            with pytest.raises(QuotaExceeded) as alone:
                await tracker.reserve(provider="openai", model="gpt-4o", input_tokens=3100, max_output_tokens=3100)
            held = await tracker.reserve(provider="openai", model="gpt-4o", input_tokens=900, max_output_tokens=100)
            with pytest.raises(QuotaExceeded) as beside:
                await tracker.reserve(provider="openai", model="gpt-4o", input_tokens=4100, max_output_tokens=0)
            tracker.record(provider="openai", model="gpt-4o", input_tokens=4990, output_tokens=10, ts=clock.now,
                           reservation=held)  # fmt: skip
            await tracker.flush()
            with pytest.raises(QuotaExceeded) as used_up:
                await tracker.reserve(provider="openai", model="gpt-4o", input_tokens=10, max_output_tokens=10)
    resets = "it resets on 2026-05-13"
    assert str(alone.value) == ("this call would need about 6,200 tokens; 5,000 tokens of this room's daily token"
                                f" budget are left; {resets}")  # fmt: skip
    assert (alone.value.needed, alone.value.used, alone.value.limit) == (6200, 2000, 7000)
    assert str(beside.value) == ("this call would need about 4,100 tokens; 4,000 tokens of this room's daily token"
                                 f" budget are left (1,000 tokens more held by calls under way); {resets}")  # fmt: skip
    assert refusal_payload(beside.value)["needed"] == "4100"
    assert str(used_up.value) == f"this room's daily token budget is used up (7,000 tokens of 7,000 tokens); {resets}"
    assert used_up.value.needed is None
