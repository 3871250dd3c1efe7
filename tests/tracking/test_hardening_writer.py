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
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.tracking.ingest import ingest_lines
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.reader import Reader
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


SIGTERM_IN_JOIN_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from matrix_usage_bot import tracking
    tracker = tracking.Tracker(sys.argv[1], flush_interval=30).start()
    for i in range(1_000):
        tracker.record(provider="openai", model="gpt-4o", input_tokens=i, output_tokens=1)

    def on_call(frame, event, arg):
        in_join = frame.f_code.co_name == "_wait_for_tstate_lock"
        return acquired if in_join and frame.f_locals["self"].name == "usage-writer" else None

    def acquired(frame, event, arg):  # the writer has ended and the join holds its lock: SIGTERM before it lets go
        if event == "line" and "lock.release()" in open(frame.f_code.co_filename).readlines()[frame.f_lineno - 1]:
            sys.settrace(None)
            os.kill(os.getpid(), signal.SIGTERM)
        return acquired

    sys.settrace(on_call)
    tracker.close()
    print("closed", flush=True)
    """
)


def test_sigterm_while_close_holds_the_joined_writers_lock_drains_and_exits(tmp_path):
    """The deadlock seen under load: the writer ends, close()'s join takes its lock, and SIGTERM comes
    before the join lets go of it; a handler that joined the writer again would wait forever."""
    db = tmp_path / "usage.db"
    proc = subprocess.run([sys.executable, "-c", SIGTERM_IN_JOIN_SCRIPT, f"sqlite:///{db}"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == -signal.SIGTERM, proc.stderr
    assert proc.stdout == "" and count(db) == 1_000


def close_with_a_second_close_at(tracker: tracking.Tracker, line: int | None) -> list[int]:
    """Close ``tracker`` on a thread of its own; at ``line`` of close() (if it is reached), close it again from
    inside, as a SIGTERM handler does. Returns the lines of close() the first call ran."""
    close, ran = tracking.Tracker.close.__code__, []

    def on_call(frame, event, arg):
        return on_line if frame.f_code is close and not ran else None

    def on_line(frame, event, arg):
        if event == "line":
            ran.append(frame.f_lineno)
            if frame.f_lineno == line:
                sys.settrace(None)
                tracker.close()
        return on_line

    def first_close() -> None:
        sys.settrace(on_call)
        try:
            tracker.close()
        finally:
            sys.settrace(None)

    closer = threading.Thread(target=first_close, daemon=True)
    closer.start()
    closer.join(60)
    assert not closer.is_alive(), f"close() interrupted at line {line} hung"
    return ran


def test_a_close_interrupted_at_any_line_by_a_second_close_drains_everything(tmp_path):
    """What SIGTERM does when it comes during close(): the handler closes the same tracker again, from
    the same thread, at whatever line the first call had reached; everything must be stored when it returns."""

    def tracker_with_events(name: str) -> tuple[tracking.Tracker, Path]:
        db = tmp_path / f"{name}.db"
        tracker = tracking.Tracker(f"sqlite:///{db}", flush_interval=30).start()
        record_many(tracker, 1_000)
        return tracker, db

    lines = close_with_a_second_close_at(tracker_with_events("plain")[0], None)
    assert len(lines) >= 5
    for line in sorted(set(lines)):
        tracker, db = tracker_with_events(f"line-{line}")
        stored: list[int] = []

        def close_and_count(close=tracker.close, db=db, stored=stored) -> None:
            close()
            stored.append(count(db))

        tracker.close = close_and_count  # type: ignore[method-assign]
        close_with_a_second_close_at(tracker, line)
        assert stored[0] == 1_000, f"a second close() at line {line} returned with {stored[0]} of 1,000 stored"


class LingeringReader(Reader):
    """A reader whose thread stays alive a moment after its event loop has closed."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.loop_closed, self.leave = threading.Event(), threading.Event()

    def run(self) -> None:
        super().run()
        self.loop_closed.set()
        self.leave.wait(10)


def test_closing_a_reader_whose_loop_has_just_closed_waits_without_raising(tmp_path):
    reader = LingeringReader(f"sqlite:///{tmp_path / 'usage.db'}")
    reader.start()
    reader.ready.wait()
    reader.close_first = threading.Thread(target=reader.close)
    reader.close_first.start()
    assert reader.loop_closed.wait(10) and reader.is_alive()
    threading.Timer(0.2, reader.leave.set).start()
    reader.close()  # the SIGTERM handler's second close: the loop is closed, the thread not yet gone
    assert not reader.is_alive()
    reader.close_first.join(10)


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
