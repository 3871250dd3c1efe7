"""The HTTP tracker's spool under a collector that keeps going away: every event stored exactly once, from one
tracker and from several processes sharing one spool."""

from __future__ import annotations

import asyncio
import json
import random
import stat
import sys
import textwrap
import threading
from asyncio.subprocess import PIPE
from pathlib import Path

import pytest
from aiohttp import web

from matrix_usage_bot import tracking
from matrix_usage_bot.bot.http.server import UsageServer
from matrix_usage_bot.tracking import http_sink
from matrix_usage_bot.tracking.http_sink import default_spool
from matrix_usage_bot.tracking.retry import RetryPolicy
from tests.dbrows import rows
from tests.tracking.test_hardening_writer import locked_tracker

from .conftest import KEYS, make_config

QUICK_RETRY = RetryPolicy(0.05, 0.4)
"""Retries every few tenths of a second, so twenty outages take seconds, not minutes of backoff."""


def stored_ids(db_url: str) -> list[str]:
    return [r[0] for r in rows(db_url, "SELECT event_id FROM events ORDER BY event_id")]


class Recorder(threading.Thread):
    """Records calls without pause on its own thread, as an agent does, until told to stop and ``at_least`` are
    recorded (the count a test asserts, reached on a slow machine too)."""

    def __init__(self, tracker: tracking.Tracker, prefix: str, burst: int = 20, at_least: int = 0) -> None:
        super().__init__(daemon=True)
        self.tracker, self.prefix, self.burst, self.at_least = tracker, prefix, burst, at_least
        self.ids: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set() or len(self.ids) < self.at_least:
            for _ in range(self.burst):
                event_id = f"{self.prefix}-{len(self.ids):06d}"
                self.tracker.record(provider="openai", model="gpt-4o", input_tokens=len(self.ids) % 500 + 1,
                                    output_tokens=3, room_id="!a:x", event_id=event_id)  # fmt: skip
                self.ids.append(event_id)
            self.stop.wait(0.01)


async def absent_collector(db_url: str) -> int:
    """A loopback port a collector of this store listened on and left: nothing answers there yet."""
    server = await UsageServer(make_config(db_url)).start()
    await server.close()
    return server.port


async def flapping(db_url: str, port: int, cycles: int, seed: int) -> None:
    """The collector on `port` goes away and comes back `cycles` times, for random spells; it ends up."""
    spells = random.Random(seed)
    server = await UsageServer(make_config(db_url, listen=f"127.0.0.1:{port}")).start()
    for _ in range(cycles):
        await asyncio.sleep(spells.uniform(0.05, 0.4))
        await server.close()
        await asyncio.sleep(spells.uniform(0.05, 0.4))
        server = await UsageServer(make_config(db_url, listen=f"127.0.0.1:{port}")).start()
    return server


@pytest.mark.slow
async def test_a_collector_away_twenty_times_loses_and_doubles_nothing(db_url, tmp_path, monkeypatch):
    monkeypatch.setattr(http_sink, "COLLECTOR_RETRY", QUICK_RETRY)
    port = await absent_collector(db_url)
    url = f"http://127.0.0.1:{port}"
    tracker = tracking.Tracker(url, api_key=KEYS["writer"], spool=tmp_path / "spool.jsonl", flush_interval=0.02)
    async with tracker:
        recorder = Recorder(tracker, "solo", at_least=5_001)
        recorder.start()
        server = await flapping(db_url, port, 20, seed=2024)
        recorder.stop.set()
        recorder.join()
        await tracker.flush()
    try:
        assert len(recorder.ids) > 5000
        assert stored_ids(db_url) == recorder.ids
    finally:
        await server.close()


AGENT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    from matrix_usage_bot import tracking
    from matrix_usage_bot.tracking import http_sink
    from tests.http.test_spool import QUICK_RETRY, Recorder

    http_sink.COLLECTOR_RETRY = QUICK_RETRY
    url, key, spool, prefix = sys.argv[1:5]
    with tracking.Tracker(url, api_key=key, spool=spool, flush_interval=0.02) as tracker:
        recorder = Recorder(tracker, prefix, burst=10, at_least=700)
        recorder.start()
        sys.stdin.readline()  # records until the test says stop
        recorder.stop.set()
        recorder.join()
    print(len(recorder.ids), flush=True)
    """
)


@pytest.mark.slow
async def test_processes_sharing_one_spool_lose_and_double_nothing(db_url, tmp_path, monkeypatch):
    monkeypatch.setattr(http_sink, "COLLECTOR_RETRY", QUICK_RETRY)
    port = await absent_collector(db_url)
    url, spool = f"http://127.0.0.1:{port}", tmp_path / "spool.jsonl"
    script = AGENT.format(root=str(Path(__file__).resolve().parents[2]))
    agents = [await asyncio.create_subprocess_exec(sys.executable, "-c", script, url, KEYS["writer"], str(spool),
                                                   f"p{n}", stdin=PIPE, stdout=PIPE) for n in range(3)]
    server = await flapping(db_url, port, 12, seed=7)
    counts = []
    for agent in agents:
        out, _ = await agent.communicate(b"stop\n")
        assert agent.returncode == 0
        counts.append(int(out))
    try:  # what an agent left in the spool (the collector was away as it closed) goes with the next tracker
        async with tracking.Tracker(url, api_key=KEYS["writer"], spool=spool):
            pass
    finally:
        await server.close()
    expected = sorted(f"p{n}-{i:06d}" for n, count in enumerate(counts) for i in range(count))
    assert len(expected) > 2000
    assert stored_ids(db_url) == expected


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_spool_and_spill_files_are_private(db_url, tmp_path, monkeypatch, short_lock_waits):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    server = await UsageServer(make_config(db_url)).start()
    url = f"http://127.0.0.1:{server.port}"
    spool = default_spool(url)
    await server.close()
    async with tracking.Tracker(url, api_key=KEYS["writer"]) as tracker:  # the collector is away
        tracker.record(provider="openai", model="gpt-4o", input_tokens=3, room_id="!a:x")
        tracker.record(provider="openai", model="gpt-4o", input_tokens=4, room_id="!b:x")  # not the key's room
        await tracker.flush()
        assert spool.stat().st_size > 0
        server = await UsageServer(make_config(db_url, listen=url.removeprefix("http://"))).start()
    await server.close()
    assert spool.parent == tmp_path / "state" / "matrix-usage-bot"
    assert {mode(spool.parent), mode(spool.parent.parent)} == {0o700}
    files = sorted(spool.parent.iterdir())
    assert [f.name for f in files if f.name.endswith(".jsonl")] == [spool.name + ".rejected.jsonl"]
    assert {f.name: mode(f) for f in files} == dict.fromkeys((f.name for f in files), 0o600)

    db = tmp_path / "local.db"  # a local tracker's spill file, beside its database
    local, blocker = locked_tracker(db)
    local.record(provider="openai", model="gpt-4o", input_tokens=5)
    local.close()
    blocker.close()
    assert local.spill_path is not None and local.spill_path.parent == tmp_path and mode(local.spill_path) == 0o600


async def test_events_spooled_in_the_former_folder_are_delivered(db_url, tmp_path, monkeypatch):
    """Versions before 0.2 spooled in $XDG_STATE_HOME/usage-bot/: what waits there (the spool, and a file a
    sender left) is sent by the next tracker, whose own spool is in matrix-usage-bot/."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    server = await UsageServer(make_config(db_url)).start()
    try:
        url = f"http://127.0.0.1:{server.port}"
        former = tmp_path / "state" / "usage-bot" / default_spool(url).name
        former.parent.mkdir(parents=True)
        event = {"ts": "2026-11-02T08:15:00+00:00", "provider": "openai", "model": "gpt-4o", "input_tokens": 41,
                 "output_tokens": 9, "room_id": "!a:x"}  # fmt: skip
        former.write_text(json.dumps({**event, "event_id": "former-1"}) + "\n")
        former.with_name(former.name + ".sending").write_text(json.dumps({**event, "event_id": "former-2"}) + "\n")
        async with tracking.Tracker(url, api_key=KEYS["writer"]):
            pass
    finally:
        await server.close()
    assert stored_ids(db_url) == ["former-1", "former-2"]
    assert rows(db_url, "SELECT input_tokens, output_tokens FROM events") == [(41, 9), (41, 9)]
    assert not former.exists() and not former.with_name(former.name + ".sending").exists()
    assert default_spool(url).parent == tmp_path / "state" / "matrix-usage-bot"


HANGING = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    from matrix_usage_bot import tracking
    from matrix_usage_bot.tracking import http_sink
    from tests.http.test_spool import QUICK_RETRY

    http_sink.COLLECTOR_RETRY = QUICK_RETRY
    url, key, spool = sys.argv[1:4]
    tracker = tracking.Tracker(url, api_key=key, spool=spool).start()
    for i in range(300):
        tracker.record(provider="openai", model="gpt-4o", input_tokens=i + 1, room_id="!a:x", event_id=f"k-{{i:03d}}")
    tracker.flush_sync()
    print("spooled", flush=True)
    sys.stdin.readline()
    """
)


async def test_a_sender_killed_midway_leaves_its_events_for_the_next(db_url, tmp_path):
    port = await absent_collector(db_url)
    url, spool = f"http://127.0.0.1:{port}", tmp_path / "spool.jsonl"
    agent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HANGING.format(root=str(Path(__file__).resolve().parents[2])), url, KEYS["writer"],
        str(spool), stdin=PIPE, stdout=PIPE)  # fmt: skip
    assert (await agent.stdout.readline()).strip() == b"spooled"
    taken, killed = asyncio.Event(), asyncio.Event()

    async def never_answers(request: web.Request) -> web.Response:
        taken.set()
        await killed.wait()
        return web.Response(status=503)

    app = web.Application()
    app.router.add_post("/v1/events", never_answers)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await taken.wait()  # the agent is sending its spool
    agent.kill()
    await agent.wait()
    killed.set()
    await runner.cleanup()
    assert spool.with_name("spool.jsonl.sending").exists()
    server = await UsageServer(make_config(db_url, listen=f"127.0.0.1:{port}")).start()
    try:
        async with tracking.Tracker(url, api_key=KEYS["writer"], spool=spool):
            pass
    finally:
        await server.close()
    assert stored_ids(db_url) == [f"k-{i:03d}" for i in range(300)]
    assert not spool.exists() and not spool.with_name("spool.jsonl.sending").exists()
