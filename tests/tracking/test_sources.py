"""`event_id` is unique within a room, not across the store; every event has a `source` (its entry point, or the
HTTP key that posted it, see tests/http/test_sources.py), reported by `--by source` beyond retention and kept by
`usage-bot migrate`."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.bot.features.passive_collection import PassiveCollector
from matrix_usage_bot.tracking.ingest import ingest_lines
from matrix_usage_bot.tracking.maintenance import apply_retention
from matrix_usage_bot.tracking.periods import parse_period, zone
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.queries import usage_report
from matrix_usage_bot.tracking.settings import TrackingSettings
from matrix_usage_bot.tracking.store import open_store
from matrix_usage_bot.tracking.store.copy import copy_store
from tests.dbrows import rollup_mismatches, rows

TS = datetime(2026, 7, 14, 9, 20, tzinfo=UTC)


async def test_the_same_event_id_in_another_room_is_another_event(store_url):
    async with tracking.Tracker(store_url) as tracker:
        for room, tokens in (("!a:x", 5), ("!b:x", 7), ("!a:x", 11), ("!b:x", 13), ("!c:x", 17)):
            tracker.record(provider="openai", model="gpt-4o", input_tokens=tokens, room_id=room, event_id="$same",
                           ts=TS)  # fmt: skip
        await tracker.flush()
        assert (tracker.stats.stored, tracker.stats.duplicates) == (3, 2)
    assert rows(store_url, "SELECT room_id, input_tokens FROM events ORDER BY room_id") == [
        ("!a:x", 5), ("!b:x", 7), ("!c:x", 17)]  # fmt: skip
    assert set(rollup_mismatches(store_url).values()) == {0}
    store = await open_store(store_url)
    try:
        report = await usage_report(store, parse_period("2026-07", zone("UTC")), group="room")
        assert {r.key: (r.calls, r.input_tokens) for r in report.rows} == {"!a:x": (1, 5), "!b:x": (1, 7),
                                                                           "!c:x": (1, 17)}  # fmt: skip
    finally:
        await store.close()


def mindroom_reply(tokens: int) -> dict:
    return {"msgtype": "m.text", "body": "done", "io.mindroom.ai_run": {
        "version": 1, "run_id": "r1", "status": "completed", "usage": {"input_tokens": tokens, "output_tokens": 1},
        "model": {"config": "m", "id": "gpt-4o", "provider": "openai"}}}  # fmt: skip


async def test_each_entry_point_stores_its_source_and_reports_group_by_it(store_url):
    async with tracking.Tracker(store_url) as tracker:
        tracker.record(provider="openai", model="gpt-4o", input_tokens=3, room_id="!a:x", ts=TS)
    lines = [f'{{"provider": "openai", "model": "gpt-4o", "input_tokens": {n}, "room_id": "!a:x",'
             f' "ts": "{(TS + timedelta(minutes=n)).isoformat()}"}}' for n in (19, 23)]  # fmt: skip
    store = await open_store(store_url)
    try:
        assert (await ingest_lines(store, io.StringIO("\n".join(lines)), Pricer())).stored == 2
    finally:
        await store.close()
    collector = PassiveCollector(TrackingSettings.model_validate({"storage": {"url": store_url}}), own_server="x")
    await collector.start()
    await collector.observe("!a:x", "$reply", "@mindroom_a:x", mindroom_reply(29), int(TS.timestamp() * 1000))
    await collector.close()
    assert sorted(rows(store_url, "SELECT source, input_tokens FROM events")) == [
        ("ingest", 19), ("ingest", 23), ("mindroom", 29), ("tracker", 3)]  # fmt: skip
    expected = {"ingest": (2, 42), "mindroom": (1, 29), "tracker": (1, 3)}
    store = await open_store(store_url)
    try:
        for day in ("2026-07-14", "2026-07"):  # the Kolkata day starts at 18:30 UTC: slots of the fine table
            period = parse_period(day, zone("Asia/Kolkata"))
            report = await usage_report(store, period, group="source", room_id="!a:x")
            assert {r.key: (r.calls, r.input_tokens) for r in report.rows} == expected
        assert await apply_retention(store, 30, now_ms=int((TS + timedelta(days=90)).timestamp() * 1000)) == 4
        report = await usage_report(store, parse_period("2026-07-14", zone("Asia/Kolkata")), group="source")
        assert {r.key: (r.calls, r.input_tokens) for r in report.rows} == expected
    finally:
        await store.close()


async def test_migrate_keeps_each_events_source(request, store_url, tmp_path):
    async with tracking.Tracker(store_url) as tracker:
        tracker.record(provider="openai", model="gpt-4o", input_tokens=3, room_id="!a:x", event_id="$e", ts=TS)
    async with tracking.Tracker(store_url, source="ci-key") as tracker:  # as the collector stores a key's events
        tracker.record(provider="openai", model="gpt-4o", input_tokens=4, room_id="!b:x", event_id="$e", ts=TS)
    target_url = (request.getfixturevalue("pg_url") if store_url.startswith("sqlite")
                  else f"sqlite:///{tmp_path / 'copy.db'}")  # fmt: skip
    source, target = await open_store(store_url), await open_store(target_url)
    try:
        assert (await copy_store(source, target)).events_stored == 2
        assert (await copy_store(source, target)).events_there == 2
    finally:
        await source.close()
        await target.close()
    query = "SELECT room_id, event_id, source FROM events ORDER BY room_id"
    assert rows(target_url, query) == rows(store_url, query) == [("!a:x", "$e", "tracker"), ("!b:x", "$e", "ci-key")]
    assert set(rollup_mismatches(target_url).values()) == {0}


@pytest.mark.parametrize("source", ["tracker", "on-call"])
def test_a_reservation_names_who_holds_it(tmp_path, source):
    from matrix_usage_bot.tracking.settings import QuotaSettings

    quotas = QuotaSettings.model_validate({"defaults": [{"scope": "room", "window": "daily", "limit": "1m",
                                                         "hard": True}]})  # fmt: skip
    with tracking.Tracker(f"sqlite:///{tmp_path / 'u.db'}", quotas=quotas, source=source) as tracker:
        held = tracker.reserve_sync(provider="openai", model="gpt-4o", input_tokens=10, room_id="!a:x")
        assert held is not None
        assert rows(tmp_path / "u.db", "SELECT source FROM reservations") == [(source,)]
