import asyncio
import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.store import StoreError, open_store
from matrix_usage_bot.tracking.store.schema import LATEST
from matrix_usage_bot.tracking.tracker import TrackerClosed
from tests.dbrows import ROLLUP_CHECK, ROLLUPS, rollup_mismatches, rows


async def test_20000_events_from_tasks_and_threads_stored_once(store_url):
    db = store_url
    models = [("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-5"), ("ollama", "llama3")]

    def burst(tracker, n, tag):
        for i in range(n):
            provider, model = models[i % 3]
            tracker.record(
                provider=provider, model=model, input_tokens=100 + i % 7, output_tokens=10 + i % 5,
                cache_read_tokens=i % 3, room_id=f"!room{i % 4}:x", agent=f"{tag}-{i % 2}", user_id=f"@u{i % 3}:x",
                ts=1_700_000_000 + i * 37, status="error" if i % 50 == 0 else "ok",
            )  # fmt: skip

    async with tracking.Tracker(db, batch_size=700) as tracker:

        async def task(tag):
            for _ in range(5):
                burst(tracker, 500, tag)
                await asyncio.sleep(0)

        threads = [threading.Thread(target=burst, args=(tracker, 2500, f"thread{k}")) for k in range(4)]
        for t in threads:
            t.start()
        await asyncio.gather(*(task(f"task{k}") for k in range(4)))
        for t in threads:
            t.join()
    assert tracker.stats.stored == 20_000 and tracker.stats.duplicates == 0
    assert rows(db, "SELECT count(*), count(DISTINCT event_id) FROM events") == [(20_000, 20_000)]
    assert rows(db, ROLLUPS) == rows(db, ROLLUP_CHECK)
    assert rows(db, "SELECT sum(calls) FROM rollup_slots") == [(20_000,)]
    assert set(rollup_mismatches(db).values()) == {0}


async def test_duplicate_event_ids_count_once_in_events_and_rollups(store_url):
    async with tracking.Tracker(store_url) as tracker:
        for _ in range(3):
            tracker.record(provider="openai", model="gpt-4o", input_tokens=10, output_tokens=1, event_id="same")
        await tracker.flush()
        assert (tracker.stats.stored, tracker.stats.duplicates) == (1, 2)
        tracker.record(provider="openai", model="gpt-4o", input_tokens=10, output_tokens=1, event_id="same")
    assert rows(store_url, "SELECT calls, input_tokens FROM rollup_slots") == [(1, 10)]


async def test_a_batch_holding_some_stored_events_adds_only_the_others_to_events_and_rollups(store_url):
    def record(tracker, first, last):
        for i in range(first, last):
            tracker.record(provider="openai", model="gpt-4o", input_tokens=100 + i, output_tokens=i, event_id=f"e{i}",
                           room_id=f"!room{i % 3}:x", agent=f"agent{i % 2}", ts=1_700_000_000 + 60 * i)  # fmt: skip

    async with tracking.Tracker(store_url) as tracker:
        record(tracker, 0, 10)
        await tracker.flush()
        record(tracker, 5, 25)  # one batch: e5..e9 stored already, e10..e24 new
        await tracker.flush()
        assert (tracker.stats.stored, tracker.stats.duplicates) == (25, 5)
    assert rows(store_url, "SELECT count(*), sum(input_tokens), sum(output_tokens) FROM events") == [
        (25, sum(100 + i for i in range(25)), sum(range(25)))
    ]
    assert rows(store_url, "SELECT sum(calls), sum(input_tokens) FROM rollup_slots") == [(25, 2800)]
    assert set(rollup_mismatches(store_url).values()) == {0}


async def test_attribution_nests_and_follows_tasks(store_url):
    async with tracking.Tracker(store_url) as tracker:
        with tracking.attribute(room_id="!r:x", agent="outer", user_id="@a:x"):
            with tracking.attribute(agent="inner", thread_id="$t"):

                async def in_task():
                    await asyncio.sleep(0)
                    tracker.record(provider="openai", model="gpt-4o", input_tokens=1)

                await asyncio.create_task(in_task())
            tracker.record(provider="openai", model="gpt-4o", input_tokens=2)
            tracker.record(provider="openai", model="gpt-4o", input_tokens=3, agent="explicit")
        tracker.record(provider="openai", model="gpt-4o", input_tokens=4)
        assert tracking.current_attribution() == {}
    sql = "SELECT input_tokens, room_id, thread_id, agent, user_id FROM events ORDER BY input_tokens"
    assert rows(store_url, sql) == [
        (1, "!r:x", "$t", "inner", "@a:x"),
        (2, "!r:x", "", "outer", "@a:x"),
        (3, "!r:x", "", "explicit", "@a:x"),
        (4, "", "", "", ""),
    ]


def test_sync_use_and_record_after_close(tmp_path):
    db = tmp_path / "nested" / "folder" / "usage.db"
    with tracking.Tracker(f"sqlite:///{db}") as tracker:
        tracker.record(provider="openai", model="gpt-4o", input_tokens=5, output_tokens=5)
        assert tracker.flush_sync(timeout=10)
        assert rows(db, "SELECT count(*) FROM events") == [(1,)]
    with pytest.raises(TrackerClosed, match="Tracker is closed"):
        tracker.record(provider="openai", model="gpt-4o")
    with pytest.raises(TrackerClosed, match="closed"):
        tracker.start()


async def test_invalid_records_are_kept_aside_and_never_raise(store_url):
    async with tracking.Tracker(store_url) as tracker:
        tracker.record(provider="openai", model="gpt-4o", input_tokens=5, cache_read_tokens=-9)
        tracker.record(provider="", model="gpt-4o")
        tracker.record(provider="openai", model="gpt-4o", input_tokens=1.5)  # type: ignore[arg-type]
        tracker.record(provider="openai", model="gpt-4o", input_tokens=5)
        await tracker.flush()
        assert (tracker.stats.stored, tracker.stats.rejected) == (1, 3)
        store = await tracker.store()
        assert await store.rejected_count() == 3


async def test_locked_database_is_retried_not_dropped(tmp_path, short_lock_waits):
    db = tmp_path / "usage.db"
    async with tracking.Tracker(f"sqlite:///{db}") as tracker:
        blocker = sqlite3.connect(db, timeout=0, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        for i in range(10):
            tracker.record(provider="openai", model="gpt-4o", input_tokens=i, output_tokens=1)
        flushed = asyncio.ensure_future(tracker.flush())
        for _ in range(600):  # until the writer has met the lock (a cap for a broken writer: 60 s)
            if tracker.stats.retries >= 1:
                break
            await asyncio.sleep(0.1)
        assert tracker.stats.retries >= 1 and not flushed.done()
        blocker.execute("COMMIT")
        blocker.close()
        await asyncio.wait_for(flushed, 30)
        assert tracker.stats.stored == 10 and tracker.stats.retries >= 1
    assert rows(db, "SELECT count(*) FROM events") == [(10,)]


async def test_a_bad_record_is_rejected_and_its_batch_neighbours_are_stored(store_url):
    """Found in review: a string `ts` killed the writer thread, and a count past 64 bits made every write of
    its batch fail and be retried forever; either way every later event was lost and flush hung."""
    db = store_url
    async with tracking.Tracker(db) as tracker:
        tracker.record(provider="openai", model="gpt-4o", input_tokens=1, output_tokens=1, event_id="before")
        tracker.record(provider="openai", model="gpt-4o", input_tokens=2, output_tokens=1, ts="1 Jan 2026")  # type: ignore[arg-type]
        tracker.record(provider="openai", model="gpt-4o", input_tokens=3, output_tokens=1, room_id=42)  # type: ignore[arg-type]
        tracker.record(provider="openai", model="gpt-4o", input_tokens=2**64, output_tokens=1)  # not a 64-bit integer
        tracker.record(provider="openai", model="gpt-4o", input_tokens=4, output_tokens=1, event_id="after")
        await asyncio.wait_for(tracker.flush(), 10)
        tracker.record(provider="openai", model="gpt-4o", input_tokens=5, output_tokens=1, event_id="later")
        await asyncio.wait_for(tracker.flush(), 10)
        assert (tracker.stats.stored, tracker.stats.rejected) == (3, 3)
    assert rows(db, "SELECT event_id FROM events ORDER BY input_tokens") == [("before",), ("after",), ("later",)]
    assert rows(db, "SELECT reason FROM rejected_events ORDER BY id") == [
        ("ts: must be ISO-8601 text, a datetime or Unix seconds, got '1 Jan 2026'",),
        ("room_id: must be a string, got 42",),
        ("input_tokens: is 18,446,744,073,709,551,616, more than one call can use (at most 1,000,000,000)",),
    ]


async def test_text_no_database_can_take_is_refused_and_the_rest_of_its_batch_stored(store_url):
    """Found in review: a lone surrogate (valid in a Python str, not in UTF-8) failed its whole batch forever;
    the database isolated it since, and now validation refuses it, naming the field, before any write."""
    db = store_url
    async with tracking.Tracker(db) as tracker:
        for i in range(1000):
            agent = "bad\ud800agent" if i == 637 else f"agent-{i % 5}"
            tracker.record(provider="openai", model="gpt-4o", input_tokens=i, output_tokens=1, agent=agent,
                           event_id=f"e{i}")  # fmt: skip
        await asyncio.wait_for(tracker.flush(), 20)
        assert (tracker.stats.stored, tracker.stats.rejected, tracker.stats.duplicates) == (999, 1, 0)
    assert rows(db, "SELECT count(*), sum(input_tokens) FROM events") == [(999, sum(range(1000)) - 637)]
    assert rows(db, "SELECT sum(calls), sum(input_tokens) FROM rollup_slots") == [(999, sum(range(1000)) - 637)]
    ((reason, payload),) = rows(db, "SELECT reason, payload FROM rejected_events")
    assert reason == "agent: holds a lone surrogate (U+D800), which is not Unicode text and no store takes"
    assert json.loads(payload)["event_id"] == "e637" and json.loads(payload)["agent"] == "bad\ud800agent"


async def test_a_bug_while_building_a_row_costs_that_event_its_row_never_the_writer(store_url, monkeypatch):
    from matrix_usage_bot.tracking import writer

    original = writer.recorded_to_row

    def broken_for_7(recorded, *args):
        if recorded.input_tokens == 7:
            raise RuntimeError("boom")
        return original(recorded, *args)

    monkeypatch.setattr(writer, "recorded_to_row", broken_for_7)
    db = store_url
    async with tracking.Tracker(db) as tracker:
        for tokens in (6, 7, 8):
            tracker.record(provider="openai", model="gpt-4o", input_tokens=tokens, output_tokens=1)
        await asyncio.wait_for(tracker.flush(), 10)
    assert rows(db, "SELECT input_tokens FROM events ORDER BY input_tokens") == [(6,), (8,)]
    ((reason, payload),) = rows(db, "SELECT reason, payload FROM rejected_events")
    assert reason == "could not be stored: RuntimeError: boom" and json.loads(payload)["input_tokens"] == 7


async def test_an_event_is_stamped_when_recorded_not_when_the_writer_stores_it(tmp_path, short_lock_waits):
    """A locked database holds the write back; the event keeps the time of the call (its day, its quota window)."""
    db = tmp_path / "usage.db"
    async with tracking.Tracker(f"sqlite:///{db}") as tracker:
        blocker = sqlite3.connect(db, timeout=0, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        before_ms = time.time_ns() // 1_000_000
        tracker.record(provider="openai", model="gpt-4o", input_tokens=7, output_tokens=1, room_id="!r:x")
        after_ms = time.time_ns() // 1_000_000 + 1
        await asyncio.sleep(0.5)  # the writer meets the lock meanwhile, and retries
        released_ms = time.time_ns() // 1_000_000
        blocker.execute("ROLLBACK")
        blocker.close()
        await tracker.flush()
    ((ts_ms,),) = rows(db, "SELECT ts_ms FROM events")
    assert before_ms <= ts_ms <= after_ms < released_ms


async def _started_on_a_locked_store(db: Path, **options: int) -> tuple[tracking.Tracker, sqlite3.Connection]:
    """A started tracker that gives up writing 0.5 s into its close, and a connection holding its store locked."""
    tracker = tracking.Tracker(f"sqlite:///{db}", **options)
    tracker._writer.give_up_after = 0.5
    await asyncio.to_thread(tracker.start)
    blocker = sqlite3.connect(db, timeout=0, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    return tracker, blocker


async def test_unwritable_store_at_close_saves_events_for_ingest(tmp_path, short_lock_waits):
    db = tmp_path / "usage.db"
    tracker, blocker = await _started_on_a_locked_store(db)
    tracker.record(provider="openai", model="gpt-4o", input_tokens=7, output_tokens=1, room_id="!r:x")
    await tracker.aclose()
    blocker.execute("ROLLBACK")
    blocker.close()
    assert tracker.spill_path is not None and tracker.spill_path.exists()
    from matrix_usage_bot.tracking.ingest import ingest_lines
    from matrix_usage_bot.tracking.pricing import Pricer

    store = await open_store(f"sqlite:///{db}")
    result = await ingest_lines(store, tracker.spill_path.read_text().splitlines(), Pricer())
    await store.close()
    assert (result.stored, result.errors) == (1, [])


async def test_unwritable_store_at_close_saves_every_batch_including_the_prepared_one(tmp_path, short_lock_waits):
    """Batches of 3: one is being written, the next already prepared, the rest queued; none is lost."""
    db = tmp_path / "usage.db"
    tracker, blocker = await _started_on_a_locked_store(db, batch_size=3)
    for i in range(10):
        tracker.record(provider="openai", model="gpt-4o", input_tokens=i, output_tokens=1, event_id=f"e{i}")
    flushed = asyncio.ensure_future(tracker.flush())
    tracker.record(provider="openai", model="gpt-4o", input_tokens=10, output_tokens=1, event_id="e10")
    await tracker.aclose()
    blocker.execute("ROLLBACK")
    blocker.close()
    await asyncio.wait_for(flushed, 5)
    saved = [json.loads(line)["event_id"] for line in tracker.spill_path.read_text().splitlines()]
    assert saved == [f"e{i}" for i in range(11)]


async def test_a_flush_waiting_on_the_batch_being_written_returns_once_that_batch_is_saved_at_close(
    tmp_path, short_lock_waits
):
    """The flush's marker rides with the batch the writer is retrying when the store stays locked through close:
    the batch goes to the spill file, and the flush returns (it waited forever before)."""
    db = tmp_path / "usage.db"
    tracker, blocker = await _started_on_a_locked_store(db)
    tracker.record(provider="openai", model="gpt-4o", input_tokens=1, output_tokens=1, event_id="e0")
    flushed = asyncio.ensure_future(tracker.flush())
    await asyncio.sleep(0.5)  # the writer has taken the event with the flush's marker, and retries
    await tracker.aclose()
    blocker.execute("ROLLBACK")
    blocker.close()
    await asyncio.wait_for(flushed, 5)
    saved = [json.loads(line)["event_id"] for line in tracker.spill_path.read_text().splitlines()]
    assert saved == ["e0"]


async def test_corrupt_and_foreign_files_give_clear_errors(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="not a usage database"):
        await open_store(f"sqlite:///{junk}")
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(StoreError, match="database of something else \\(tables: invoices\\)"):
        async with tracking.Tracker(f"sqlite:///{foreign}"):
            pass
    redacted = r"^cannot connect to the usage database postgresql://bob:\*\*\*@127.0.0.1:1/u: "
    with pytest.raises(StoreError, match=redacted):
        await open_store("postgresql://bob:secret@127.0.0.1:1/u")


async def test_postgresql_schema_version_matches_sqlite_and_foreign_databases_are_refused(pg_url):
    import psycopg

    store = await open_store(pg_url)
    assert await store.schema_version() == LATEST
    await store.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="schema version 99, newer than"):
        await open_store(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP TABLE meta")
    with pytest.raises(StoreError, match="PostgreSQL database of something else"):
        await open_store(pg_url)


async def test_migrations_are_versioned_and_reopen_cleanly(db_url):
    store = await open_store(db_url)
    assert await store.schema_version() == LATEST
    await store.close()
    store = await open_store(db_url)
    assert await store.schema_version() == LATEST
    await store.close()
    db = Path(db_url.removeprefix("sqlite:///"))
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="schema version 99, newer than"):
        await open_store(db_url)


def test_attribute_takes_exactly_the_attribution_fields():
    from typing import get_type_hints

    from matrix_usage_bot.tracking.context import Attribution, attribute
    from matrix_usage_bot.tracking.fields import ATTRIBUTION

    assert set(get_type_hints(Attribution)) == set(ATTRIBUTION)
    with pytest.raises(TypeError, match="room"):
        with attribute(room="!r:x"):  # type: ignore[call-arg]
            pass
    with attribute(room_id="!r:x", agent="a") as outer, attribute(agent="b") as inner:
        assert dict(outer) == {"room_id": "!r:x", "agent": "a"}
        assert dict(inner) == {"room_id": "!r:x", "agent": "b"}
