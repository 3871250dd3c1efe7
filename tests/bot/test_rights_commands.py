"""`!usage me export` and `!usage forget me`: the sender's own data, in a direct chat only, on both backends."""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

import pytest

from matrix_usage_bot.bot.commands import COMMANDS as registry
from matrix_usage_bot.bot.commands.dispatch import Dispatcher
from matrix_usage_bot.bot.commands.files import too_large_answer
from matrix_usage_bot.bot.commands.request import Services
from matrix_usage_bot.tracking.quotas import QuotaBook
from matrix_usage_bot.tracking.settings import QuotaSettings
from matrix_usage_bot.tracking.store import open_store
from tests.dbrows import rows
from tests.tracking.rights_world import ALICE, LOOKALIKE, ROOM_A, build, events, snapshot

DM = "!alice-and-the-bot:example.org"
TZ = ZoneInfo("UTC")


@pytest.fixture
async def dispatcher(store_url):
    await build(store_url, retention=False)
    store = await open_store(store_url)
    changes = []
    settings = QuotaSettings.model_validate({"plans": {"pro": []}, "user_plans": {ALICE: "pro"}})
    services = Services(store, TZ, lambda room: (room,), lambda room: None, list,
                        quotas=QuotaBook(store, settings, TZ), on_quota_change=lambda: changes.append(1))  # fmt: skip
    dispatcher = Dispatcher(registry, services, is_room_admin=_no, is_bot_admin=lambda user: False)
    dispatcher.quota_changes = changes  # type: ignore[attr-defined]
    yield dispatcher
    await store.close()


async def _no(room_id: str, user_id: str) -> bool:
    return False


async def ask(dispatcher, body, *, direct=True, sender=ALICE):
    return await dispatcher.answer(room_id=DM if direct else ROOM_A, sender=sender, body=body, thread_root=None,
                                   is_direct=direct)  # fmt: skip


@pytest.mark.parametrize("body", ["!usage me export", "!usage forget me", "!usage forget me confirm"])
async def test_only_in_a_direct_chat(dispatcher, store_url, body):
    before = snapshot(store_url)
    answer = await ask(dispatcher, body, direct=False)
    assert answer.attachment is None and "direct chat" in answer.plain and ALICE not in answer.plain
    assert snapshot(store_url) == before


async def test_me_export_is_the_senders_events_in_every_room(dispatcher):
    answer = await ask(dispatcher, "!usage me export")
    theirs = sorted(e.event_id for e, _ in events() if e.user_id == ALICE)
    table = list(csv.DictReader(io.StringIO(answer.attachment.data.decode())))
    assert sorted(r["event_id"] for r in table[:-1]) == theirs and table[-1]["event_id"] == "TOTAL"
    assert {r["user_id"] for r in table[:-1]} == {ALICE} and len({r["room_id"] for r in table[:-1]}) == 3
    assert f"Events by you in all rooms, all time: {len(theirs)} rows." in answer.plain
    none = await ask(dispatcher, "!usage me export", sender="@nobody:example.org")
    assert none.plain == "No usage by you in all rooms, all time: nothing to export."
    assert too_large_answer("!usage me export all", "f.csv", 2_000_000, 1_000_000).plain.endswith(
        "e.g. !usage me export 7d")  # fmt: skip


async def test_forget_me_asks_first_then_erases(dispatcher, store_url):
    before = snapshot(store_url)
    theirs = sum(1 for e, _ in events() if e.user_id == ALICE)
    asked = await ask(dispatcher, "!usage forget me")
    assert snapshot(store_url) == before and dispatcher.quota_changes == []
    assert asked.plain.startswith(f"Erasing you would change this: {theirs} events would no longer name you")
    assert "To erase, send: !usage forget me confirm" in asked.plain and "PostHog" in asked.plain
    assert "quotas.user_plans puts you on plan 'pro'" in asked.plain

    done = await ask(dispatcher, "!usage forget me confirm")
    assert done.plain.startswith(f"Erased you: {theirs} events no longer name you")
    assert "3 quotas set for you removed" in done.plain and "the bot cannot edit it" in done.plain
    assert dispatcher.quota_changes == [1]
    assert rows(store_url, f"SELECT count(*) FROM events WHERE user_id = '{ALICE}'") == [(0,)]
    assert rows(store_url, f"SELECT count(*) FROM events WHERE user_id = '{LOOKALIKE}'") != [(0,)]
    mine = await ask(dispatcher, "!usage me all")
    assert "no usage" in mine.plain
    users = await ask(dispatcher, "!usage users all", direct=False, sender=LOOKALIKE)
    assert LOOKALIKE in users.plain and f"{ALICE} " not in users.plain and f"{ALICE}\n" not in users.plain
    again = await ask(dispatcher, "!usage forget me")
    assert again.plain.startswith("Nothing in the usage store names you.")
