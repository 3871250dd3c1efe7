"""Which quotas hold where: both units side by side, plans, quotas counted everywhere, per user."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from matrix_usage_bot.tracking.quotas import QuotaBook, QuotaRules
from matrix_usage_bot.tracking.settings import QuotaSettings
from matrix_usage_bot.tracking.store import EVERYWHERE, QuotaRow, open_store

NOW = datetime(2026, 11, 24, 15, 40, tzinfo=UTC)


def rules(**config) -> QuotaRules:
    return QuotaRules(QuotaSettings.model_validate(config))


def shown(quotas) -> list[tuple]:
    return sorted((q.scope, q.name, q.window, q.amount.unit, q.amount.value, q.source, q.plan) for q in quotas)


def test_a_token_and_a_dollar_quota_on_one_window_live_side_by_side():
    r = rules(defaults=[{"scope": "room", "window": "daily", "limit": "200k"},
                        {"scope": "room", "window": "daily", "limit": "$5"}])  # fmt: skip
    assert shown(r.in_room(None, [])) == [
        ("room", "", "daily", "tokens", 200_000, "config", None),
        ("room", "", "daily", "usd", 5, "config", None),
    ]
    cleared = [QuotaRow("!r", "room", "", "daily", "usd", "0", False, True)]
    assert shown(r.in_room(None, cleared)) == [("room", "", "daily", "tokens", 200_000, "config", None)]
    replaced = [QuotaRow("!r", "room", "", "daily", "tokens", "300000", True, False)]
    assert shown(r.in_room(None, replaced)) == [
        ("room", "", "daily", "tokens", 300_000, "room", None),
        ("room", "", "daily", "usd", 5, "config", None),
    ]


def test_a_plan_layers_between_defaults_and_the_rooms_own():
    r = rules(
        defaults=[{"scope": "room", "window": "monthly", "limit": "1m"}],
        plans={"pro": [{"scope": "room", "window": "monthly", "limit": "10m"},
                       {"scope": "room", "window": "hourly", "limit": "$2", "hard": True}]},
        room_plans={"!r": "pro"},
    )  # fmt: skip
    assert r.plan_of_room("!r", None) == "pro" and r.plan_of_room("!q", None) is None
    assert r.plan_of_room("!q", "pro") == "pro" and r.plan_of_room("!q", "gone") is None
    assert shown(r.in_room("pro", [])) == [
        ("room", "", "hourly", "usd", 2, "plan", "pro"),
        ("room", "", "monthly", "tokens", 10_000_000, "plan", "pro"),
    ]
    own = [QuotaRow("!r", "room", "", "monthly", "tokens", "5000000", False, False)]
    assert ("room", "", "monthly", "tokens", 5_000_000, "room", None) in shown(r.in_room("pro", own))


def test_quotas_everywhere_for_each_user_for_a_planned_user_and_for_one_named_user():
    r = rules(
        everywhere=[{"scope": "user", "window": "monthly", "limit": "$20"},
                    {"scope": "global", "window": "monthly", "limit": "$500"}],
        plans={"pro": [{"scope": "user", "window": "monthly", "limit": "$50"}]},
        user_plans={"@pro:x": "pro"},
    )  # fmt: skip
    assert shown(r.across_rooms([], "@a:x")) == [
        ("global", "", "monthly", "usd", 500, "config", None),
        ("user", "@a:x", "monthly", "usd", 20, "config", None),
    ]
    assert ("user", "@pro:x", "monthly", "usd", 50, "plan", "pro") in shown(r.across_rooms([], "@pro:x"))
    assert ("user", "@pro:x", "monthly", "usd", 20, "config", None) not in shown(r.across_rooms([], "@pro:x"))
    set_for_bob = [QuotaRow(EVERYWHERE, "user", "@bob:x", "monthly", "usd", "100", True, False)]
    assert ("user", "@bob:x", "monthly", "usd", 100, "everywhere", None) in shown(r.across_rooms(set_for_bob, "@bob:x"))
    assert ("user", "@bob:x", "monthly", "usd", 100, "everywhere", None) not in shown(
        r.across_rooms(set_for_bob, "@a:x")
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"everywhere": [{"scope": "room", "window": "daily", "limit": "1k"}]}, "not a room"),
        ({"plans": {"x": [{"scope": "global", "window": "daily", "limit": "1k"}]}}, "plan 'x'"),
        ({"room_plans": {"!r": "gold"}}, "which quotas.plans does not define"),
        ({"defaults": [{"scope": "room", "window": "weekly", "limit": "1k"}]}, "hourly"),
    ],
)
def test_bad_quota_config_names_the_problem(config, message):
    with pytest.raises(ValidationError, match=message):
        QuotaSettings.model_validate(config)


async def test_the_book_counts_each_users_quota_across_rooms_and_an_hourly_window(tmp_path):
    from matrix_usage_bot.tracking import Tracker

    url = f"sqlite:///{tmp_path / 'usage.db'}"
    settings = QuotaSettings.model_validate(
        {"everywhere": [{"scope": "user", "window": "monthly", "limit": "10k"}],
         "defaults": [{"scope": "room", "window": "hourly", "limit": "5k"}]}
    )  # fmt: skip
    with Tracker(url, quotas=settings, clock=lambda: NOW) as tracker:
        for room in ("!a:x", "!b:x"):
            tracker.record(provider="openai", model="gpt-4o", input_tokens=4000, output_tokens=0, room_id=room,
                           user_id="@u:x", ts=NOW)  # fmt: skip
        tracker.record(provider="openai", model="gpt-4o", input_tokens=999, output_tokens=0, room_id="!a:x",
                       user_id="@u:x", ts=datetime(2026, 11, 24, 14, 59, tzinfo=UTC))  # fmt: skip
    store = await open_store(url)
    book = QuotaBook(store, settings, ZoneInfo("Europe/Berlin"), lambda: NOW)
    everywhere = await book.everywhere_statuses()
    assert [(s.quota.name, s.used, s.percent) for s in everywhere] == [("@u:x", 8999, 89)]
    (hourly,) = await book.statuses(["!a:x"])
    assert (hourly.used, hourly.limit) == (4000, 5000)  # 15:59 UTC was the hour before (16:00-17:00 Berlin)
    assert hourly.resets == datetime(2026, 11, 24, 17, tzinfo=ZoneInfo("Europe/Berlin"))
    tight = await book.check(room_id="!b:x", user_id="@u:x")
    assert tight is not None and tight.quota.scope == "user" and tight.used_amount() == Decimal(8999)
    await store.close()


async def test_quotas_set_before_units_were_keys_keep_their_meaning(tmp_path):
    """A room's quota used to replace the default of its window whatever the unit; a cleared one cleared it."""
    import sqlite3

    from tests.oldstores import build

    path = tmp_path / "usage.db"
    build(path, 5)
    db = sqlite3.connect(path)
    db.executescript(
        """
        INSERT INTO quotas VALUES ('!r', 'room', '', 'daily', 'usd', '5', 1, 0, '@a:x', 1);
        INSERT INTO quotas VALUES ('!r', 'agent', 'bot', 'monthly', 'tokens', '0', 0, 1, '@a:x', 2);
        """
    )
    db.commit()
    db.close()
    store = await open_store(f"sqlite:///{path}")
    r = rules(defaults=[{"scope": "room", "window": "daily", "limit": "200k"},
                        {"scope": "agent", "name": "bot", "window": "monthly", "limit": "$9"}])  # fmt: skip
    assert shown(r.in_room(None, await store.quota_rows(["!r"]))) == [("room", "", "daily", "usd", 5, "room", None)]
    assert len(shown(r.in_room(None, await store.quota_rows(["!other"])))) == 2
    await store.close()
