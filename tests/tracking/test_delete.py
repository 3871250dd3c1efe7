"""`delete`: the matching events go, and every rollup stays equal to a GROUP BY over the events that remain; calls
older than the retention (only sums left) are counted and kept; a dry run changes nothing. Both backends."""

from __future__ import annotations

from decimal import Decimal

import pytest

from matrix_usage_bot.tracking.store import is_postgres, open_store
from matrix_usage_bot.tracking.store.batch import ROLLUP_KEYS
from matrix_usage_bot.tracking.store.erasure import EventMatch
from tests.dbrows import rollup_mismatches, rollup_residuals, rows
from tests.hooks.helpers import expected_cost
from tests.tracking.rights_world import ALICE, CUTOFF_MS, START, build, events, snapshot

EXACT = {table: 0 for table in ROLLUP_KEYS}
DAY_MS = 86_400_000


async def test_delete_by_source_leaves_every_rollup_equal_to_what_remains(store_url):
    await build(store_url, retention=False)
    before = snapshot(store_url)
    leaked = [e for e, source in events() if source == "leaky-key"]
    store = await open_store(store_url)
    try:
        preview = await store.preview_delete(EventMatch(source="leaky-key"))
        assert snapshot(store_url) == before
        seen = []
        done = await store.delete_events(EventMatch(source="leaky-key"), lambda n, total: seen.append((n, total)))
    finally:
        await store.close()
    assert done == preview and done.sums_only == 0 and seen[0] == (0, len(leaked)) and seen[-1] == (len(leaked),) * 2
    totals = done.totals
    assert (totals.calls, totals.input_tokens, totals.output_tokens, totals.cache_read_tokens) == (
        len(leaked), sum(e.input_tokens for e in leaked), sum(e.output_tokens for e in leaked),
        sum(e.cache_read_tokens for e in leaked))  # fmt: skip
    priced = [e for e in leaked if e.provider != "local"]
    assert totals.unpriced_calls == len(leaked) - len(priced) > 0
    assert Decimal(totals.cost_pusd) / 10**12 == sum(
        expected_cost(e.provider, e.model, e.input_tokens, e.output_tokens, e.cache_read_tokens,
                      ts_ms=int(e.ts.timestamp() * 1000)) for e in priced)  # fmt: skip
    assert done.rooms == {e.room_id for e in leaked}
    assert rows(store_url, "SELECT count(*) FROM events WHERE source = 'leaky-key'") == [(0,)]
    assert rows(store_url, "SELECT count(*) FROM events") == [(len(before["events"]) - len(leaked),)]
    assert rollup_mismatches(store_url) == EXACT
    for table in ("claims", "quota_rules", "room_values", "rejected_events", "reservations"):
        assert snapshot(store_url)[table] == before[table]


async def test_delete_by_room_and_time_takes_that_span_only(store_url):
    await build(store_url, retention=False)
    since, until = int(START * 1000) + 2 * DAY_MS + 123_456, int(START * 1000) + 5 * DAY_MS + 7
    match = EventMatch(room_id="!beta:example.org", since_ms=since, until_ms=until)
    inside = [e for e, _ in events() if e.room_id == match.room_id and since <= e.ts.timestamp() * 1000 < until]
    store = await open_store(store_url)
    try:
        done = await store.delete_events(match)
        again = await store.delete_events(match)
    finally:
        await store.close()
    assert done.events == len(inside) > 0 and again.events == 0
    assert rows(store_url, f"SELECT count(*) FROM events WHERE room_id = '{match.room_id}'") == [
        (sum(1 for e, _ in events() if e.room_id == match.room_id) - len(inside),)]
    assert rollup_mismatches(store_url) == EXACT


async def test_calls_older_than_the_retention_are_counted_and_kept(store_url):
    await build(store_url)
    old = [e for e, _ in events() if e.agent == "critic" and e.ts.timestamp() * 1000 < CUTOFF_MS]
    kept = [e for e, _ in events() if e.agent == "critic" and e.ts.timestamp() * 1000 >= CUTOFF_MS]
    left_as_sums = rollup_residuals(store_url)
    store = await open_store(store_url)
    try:
        preview = await store.preview_delete(EventMatch(agent="critic"))
        done = await store.delete_events(EventMatch(agent="critic"))
    finally:
        await store.close()
    assert done == preview and done.events == len(kept) and done.sums_only == len(old) > 0
    assert rollup_residuals(store_url) == left_as_sums  # what was deleted came off exactly; the old sums stayed
    assert rows(store_url, "SELECT count(*) FROM events WHERE agent = 'critic'") == [(0,)]


async def test_delete_and_forget_reach_the_rollup_rows_of_every_writer_shard(store_url):
    """Three stores wrote at once: on PostgreSQL each added to rollup rows of its own shard, so one key has a
    row per shard. Deleting and forgetting change the key's total over the shards, and a key whose total
    comes to no call goes from every shard."""
    await build(store_url, retention=False, writers=3)
    if is_postgres(store_url):
        assert rows(store_url, "SELECT count(DISTINCT shard) FROM rollup_room_daily") == [(3,)]
    store = await open_store(store_url)
    try:
        await store.delete_events(EventMatch(source="leaky-key"))
        assert rollup_mismatches(store_url) == EXACT
        erased = await store.forget_user(ALICE)
    finally:
        await store.close()
    assert erased.events > 0 and rollup_mismatches(store_url) == EXACT
    assert rows(store_url, f"SELECT count(*) FROM rollup_slots WHERE user_id = '{ALICE}'") == [(0,)]


@pytest.mark.parametrize(("fields", "error"), [
    ({}, "name the events to delete"),
    ({"room_id": "!r:x", "since_ms": 5, "until_ms": 5}, "the time range is empty"),
])  # fmt: skip
def test_a_match_needs_a_filter_and_a_range(fields, error):
    with pytest.raises(ValueError, match=error):
        EventMatch(**fields)



async def test_a_delete_of_many_pages_in_one_transaction_takes_each_page_off_once(store_url, monkeypatch):
    """Each page's sums reach the rollups through the writer's upserts (on PostgreSQL: rows staged in a
    temporary table, then added); a page must not carry the pages before it in the same transaction."""
    monkeypatch.setattr("matrix_usage_bot.tracking.store.erasure.PAGE", 7)
    await build(store_url, retention=False)
    leaked = [e for e, source in events() if source == "leaky-key"]
    assert len(leaked) > 3 * 7
    store = await open_store(store_url)
    try:
        done = await store.delete_events(EventMatch(source="leaky-key"))
    finally:
        await store.close()
    assert done.totals.calls == len(leaked)
    assert rows(store_url, "SELECT count(*) FROM events WHERE source = 'leaky-key'") == [(0,)]
    assert rollup_mismatches(store_url) == EXACT
