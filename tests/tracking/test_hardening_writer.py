"""The writer under attack: SIGTERM during a drain, a full disk at close, a flood of record() calls, bad values."""

from __future__ import annotations

import json
import logging
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.ingest import ingest_lines
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.store import StoreError, open_store
from tests.usagebot import usage_bot

DRAIN_SCRIPT = textwrap.dedent(
    """
    import sys
    from matrix_usage_bot import tracking
    tracker = tracking.Tracker(sys.argv[1], flush_interval=30, batch_size=2000).start()
    for i in range(int(sys.argv[2])):
        tracker.record(provider="openai", model="gpt-4o", input_tokens=i, output_tokens=1)
    print("closing", flush=True)
    tracker.close()
    print("closed", flush=True)
    """
)


def count(db: Path, sql: str = "SELECT count(*) FROM events") -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_sigterm_while_close_drains_waits_for_the_drain(tmp_path):
    db, total = tmp_path / "usage.db", 100_000  # a drain of a second or more: SIGTERM comes during it
    proc = subprocess.Popen([sys.executable, "-c", DRAIN_SCRIPT, f"sqlite:///{db}", str(total)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout.readline().strip() == "closing"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGTERM, proc.stderr.read()
    assert count(db) == total and count(db, "SELECT sum(calls) FROM rollup_room_daily") == total


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MiB filesystem (tmpfs; the tests run as root) that the test can fill up."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> None:
    with (disk / "filler").open("wb", buffering=0) as out:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    out.write(b"x" * size)
            except OSError:
                pass


def locked_tracker(db: Path, **kwargs) -> tuple[tracking.Tracker, sqlite3.Connection]:
    """A started tracker whose database another connection holds locked (use with the short_lock_waits fixture)."""
    tracker = tracking.Tracker(f"sqlite:///{db}", **kwargs)
    tracker._writer.give_up_after = 0.3
    tracker.start()
    blocker = sqlite3.connect(db, timeout=0, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    return tracker, blocker


def record_many(tracker: tracking.Tracker, n: int) -> None:
    for i in range(n):
        tracker.record(provider="openai", model="gpt-4o", input_tokens=i, output_tokens=1, room_id="!r:x")


def test_a_full_disk_at_close_saves_the_events_elsewhere_and_they_ingest_once(tiny_disk, tmp_path, monkeypatch,
                                                                               short_lock_waits):
    spare = tmp_path / "spare"
    spare.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spare))
    tracker, blocker = locked_tracker(tiny_disk / "usage.db")
    fill(tiny_disk)
    record_many(tracker, 20_000)
    tracker.close()
    blocker.execute("ROLLBACK")
    blocker.close()

    assert tracker.spill_path is not None and tracker.spill_path.parent == spare
    lines = tracker.spill_path.read_text().splitlines()
    assert len(lines) == 20_000 and len({json.loads(line)["event_id"] for line in lines}) == 20_000
    assert not list(tiny_disk.glob("*.unwritten-*"))  # no half-written file left on the full disk


async def test_spilled_events_ingested_twice_count_once(tmp_path, short_lock_waits):
    db = tmp_path / "usage.db"
    tracker, blocker = locked_tracker(db)
    record_many(tracker, 500)
    tracker.close()
    blocker.execute("ROLLBACK")
    blocker.close()
    lines = tracker.spill_path.read_text().splitlines()
    store = await open_store(f"sqlite:///{db}")
    try:
        first = await ingest_lines(store, lines, Pricer())
        second = await ingest_lines(store, lines, Pricer())
    finally:
        await store.close()
    assert (first.stored, first.duplicates, second.stored, second.duplicates) == (500, 0, 0, 500)


def test_no_place_to_save_is_loud_and_lists_every_event(tiny_disk, monkeypatch, caplog, short_lock_waits):
    monkeypatch.setattr(tempfile, "tempdir", str(tiny_disk))
    tracker, blocker = locked_tracker(tiny_disk / "usage.db")
    fill(tiny_disk)
    record_many(tracker, 2_000)
    spill = logging.getLogger("matrix_usage_bot.tracking.spill")
    with caplog.at_level(logging.CRITICAL, logger=spill.name), pytest.raises(StoreError, match="2000 usage"):
        tracker.close()
    blocker.execute("ROLLBACK")
    blocker.close()
    unsaved = [r.getMessage() for r in caplog.records if r.getMessage().startswith("unsaved usage event: ")]
    events = [json.loads(m.removeprefix("unsaved usage event: ")) for m in unsaved]
    assert sorted(e["input_tokens"] for e in events) == list(range(2_000))
    assert not tracker._writer.is_alive() and not list(tiny_disk.glob("*.unwritten-*"))


def test_the_queue_is_bounded_and_nothing_is_lost(tmp_path):
    db = tmp_path / "usage.db"
    with tracking.Tracker(f"sqlite:///{db}", max_pending=1_000) as tracker:
        highest = 0
        for i in range(30_000):
            tracker.record(provider="openai", model="gpt-4o", input_tokens=i, output_tokens=1)
            highest = max(highest, tracker.pending)
        assert tracker.flush_sync(60)
    assert highest <= 1_000 and tracker.spill_path is None
    assert count(db) == 30_000


async def test_a_full_queue_behind_a_locked_store_spills_instead_of_growing(tmp_path, short_lock_waits):
    db = tmp_path / "usage.db"
    tracker, blocker = locked_tracker(db, max_pending=100, full_wait=0.01)
    highest = recorded = 0
    # until the tracker has spilled: the writer takes what it can into its batch meanwhile, so how many events
    # fill the queue depends on its timing (a cap for a tracker that never spills)
    while tracker.spill_path is None and recorded < 5_000:
        tracker.record(provider="openai", model="gpt-4o", input_tokens=recorded, output_tokens=1)
        highest = max(highest, tracker.pending)
        recorded += 1
    for _ in range(50):  # and more while it spills
        tracker.record(provider="openai", model="gpt-4o", input_tokens=recorded, output_tokens=1)
        highest = max(highest, tracker.pending)
        recorded += 1
    blocker.execute("ROLLBACK")
    blocker.close()
    tracker.close()
    assert highest <= 100 and tracker.spill_path is not None
    store = await open_store(f"sqlite:///{db}")
    try:
        result = await ingest_lines(store, tracker.spill_path.read_text().splitlines(), Pricer())
    finally:
        await store.close()
    assert result.errors == [] and count(db) == recorded
    assert count(db, "SELECT count(DISTINCT input_tokens) FROM events") == recorded


BAD = [
    ({"input_tokens": True}, "input_tokens"),
    ({"ts": datetime(1969, 12, 31, tzinfo=UTC)},
     "ts: must lie between 2000-01-01 and 2100-01-01 (UTC), got '1969-12-31T00:00:00+00:00'"),
    ({"ts": datetime(1, 1, 1, tzinfo=UTC)}, "ts: must lie between 2000-01-01 and 2100-01-01"),
    ({"ts": datetime(2200, 1, 1, tzinfo=UTC)}, "ts: must lie between 2000-01-01 and 2100-01-01"),
    ({"event_id": "e" * 100_000}, "event_id"),
    ({"agent": "a" * 256}, "agent"),
]


@pytest.mark.parametrize(("change", "reason"), BAD)
def test_record_and_ingest_refuse_the_same_values(tmp_path, change, reason):
    db = tmp_path / "usage.db"
    event = {"provider": "openai", "model": "gpt-4o", "input_tokens": 10, "output_tokens": 1, **change}
    with tracking.Tracker(f"sqlite:///{db}") as tracker:
        tracker.record(**event)
        tracker.flush_sync(30)
    with sqlite3.connect(db) as conn:
        [(why,)] = conn.execute("SELECT reason FROM rejected_events").fetchall()
    assert reason in why and count(db) == 0

    line = json.dumps({k: v.isoformat() if isinstance(v, datetime) else v for k, v in event.items()})
    out = usage_bot("ingest", "--db", f"sqlite:///{tmp_path / 'i.db'}", stdin=line)
    assert out.stdout.strip() == "stored 0, duplicates 0, skipped 1", out.stderr
    assert out.stderr.strip() == f"usage-bot ingest: skipped line 1: {why}"  # the same reason, word for word
