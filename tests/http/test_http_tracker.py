"""`Tracker("http://...", api_key=...)`: batched to the collector, spooled while it is away, resent when it is
back; nothing lost, nothing doubled, and the same report as the same calls recorded directly."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import textwrap
from zoneinfo import ZoneInfo

from aiohttp import web

from matrix_usage_bot import tracking
from matrix_usage_bot.bot.http.server import UsageServer
from matrix_usage_bot.bot.render.report_formats import report_json
from matrix_usage_bot.tracking import collector_client, parse_period, usage_report
from matrix_usage_bot.tracking.store import open_store
from tests.dbrows import rows

from .conftest import KEYS, make_config, stored_count

T0 = 1_790_000_000.0  # 2026-09-21


def spooled(spool) -> list[str]:
    """The events waiting in a spool: in the file, and in the one a sender took (`.sending`)."""
    files = [spool, spool.with_name(spool.name + ".sending")]
    return [line for path in files if path.exists() for line in path.read_text().splitlines() if line.strip()]


def calls(start: int, count: int) -> list[dict]:
    return [dict(provider=("openai", "anthropic")[i % 2], model=("gpt-4o", "claude-sonnet-4-5")[i % 2],
                 input_tokens=1000 + i, output_tokens=100 + i % 17, cache_read_tokens=i % 300,
                 room_id=("!a:x", "!a:x", "!c:x")[i % 3], agent=f"agent{i % 4}", latency_ms=10.0 + i,
                 ts=T0 + 37 * i, event_id=f"call-{i}") for i in range(start, start + count)]  # fmt: skip


async def wait_for_count(db_url: str, count: int, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while stored_count(db_url) < count:
        assert asyncio.get_running_loop().time() < deadline, f"{stored_count(db_url)} of {count} arrived"
        await asyncio.sleep(0.05)


async def report_text(url: str, group: str) -> str:
    store = await open_store(url, must_exist=True)
    try:
        return report_json(await usage_report(store, parse_period("all", ZoneInfo("UTC")), group=group))
    finally:
        await store.close()


async def test_server_stopped_and_started_again_loses_and_doubles_nothing(db_url, tmp_path):
    srv = await UsageServer(make_config(db_url)).start()
    port = srv.port
    tracker = tracking.Tracker(f"http://127.0.0.1:{port}", api_key=KEYS["admin"], spool=tmp_path / "spool.jsonl")
    async with tracker:
        for call in calls(0, 300):
            tracker.record(**call)
        await tracker.flush()
        assert stored_count(db_url) == 300
        await srv.close()  # the collector goes away
        for call in calls(300, 400):
            tracker.record(**call)
        await tracker.flush()  # durable in the spool
        assert (tmp_path / "spool.jsonl").stat().st_size > 0
        for call in calls(0, 50):  # and a resend of what the server had: counted once
            tracker.record(**call)
        srv = await UsageServer(make_config(db_url, listen=f"127.0.0.1:{port}")).start()
        for call in calls(700, 300):
            tracker.record(**call)
        await tracker.flush()
        await wait_for_count(db_url, 1000)
    await srv.close()
    assert stored_count(db_url) == 1000
    direct_url = f"sqlite:///{tmp_path / 'direct.db'}"
    async with tracking.Tracker(direct_url) as direct:
        for call in calls(0, 1000):
            direct.record(**call)
    for group in (None, "agent", "model", "provider", "room", "day"):
        assert await report_text(db_url, group) == await report_text(direct_url, group)


AGENT = textwrap.dedent(
    """
    import sys, time
    from matrix_usage_bot import tracking
    tracker = tracking.Tracker(sys.argv[1], api_key=sys.argv[2], spool=sys.argv[3]).start()
    for i in range(500):
        tracker.record(provider="openai", model="gpt-4o", input_tokens=i, output_tokens=1, room_id="!a:x",
                       event_id=f"agent-{i}", ts=1_790_000_000 + i)
    tracker.flush_sync()
    print("recorded", flush=True)
    time.sleep(60)
    """
)


async def test_sigterm_while_the_collector_is_away_spools_everything_for_the_next_run(db_url, tmp_path):
    srv = await UsageServer(make_config(db_url)).start()
    port = srv.port
    await srv.close()  # away from the start
    spool = tmp_path / "spool.jsonl"
    url = f"http://127.0.0.1:{port}"
    agent = await asyncio.create_subprocess_exec(sys.executable, "-c", AGENT, url, KEYS["writer"], str(spool),
                                                 stdout=asyncio.subprocess.PIPE)  # fmt: skip
    assert (await agent.stdout.readline()).strip() == b"recorded"
    agent.send_signal(signal.SIGTERM)
    assert await agent.wait() == -signal.SIGTERM
    lines = [json.loads(line) for line in spooled(spool)]
    assert sorted(e["event_id"] for e in lines) == sorted(f"agent-{i}" for i in range(500))
    srv = await UsageServer(make_config(db_url, listen=f"127.0.0.1:{port}")).start()
    try:
        async with tracking.Tracker(url, api_key=KEYS["writer"], spool=spool):
            await wait_for_count(db_url, 500)  # the next tracker sends what the last one left
    finally:
        await srv.close()
    assert stored_count(db_url) == 500 and spooled(spool) == []


async def test_an_event_for_a_room_outside_the_key_is_set_aside_and_the_rest_delivered(db_url, tmp_path):
    srv = await UsageServer(make_config(db_url)).start()
    try:
        spool = tmp_path / "spool.jsonl"
        async with tracking.Tracker(f"http://127.0.0.1:{srv.port}", api_key=KEYS["writer"], spool=spool) as tracker:
            for n, room in enumerate(["!a:x", "!b:x", "!a:x", None, "!a:x"]):  # !b:x and none: not the key's
                tracker.record(provider="openai", model="gpt-4o", input_tokens=7 + n, room_id=room, event_id=f"r{n}")
            await tracker.flush()
            tracker.record(provider="openai", model="gpt-4o", input_tokens=9, room_id="!a:x", event_id="later")
    finally:
        await srv.close()
    assert rows(db_url, "SELECT event_id, input_tokens FROM events ORDER BY event_id") == [
        ("later", 9), ("r0", 7), ("r2", 9), ("r4", 11)]
    assert spooled(spool) == []
    kept = [json.loads(line) for line in (tmp_path / "spool.jsonl.rejected.jsonl").read_text().splitlines()]
    assert [(k["event"]["event_id"], k["rejected"]) for k in kept] == [
        ("r1", "events[1].room_id: !b:x is outside this key's rooms"),
        ("r3", "events[3].room_id: (no room_id) is outside this key's rooms")]


async def test_a_tracker_from_config_sends_to_the_collector(db_url, tmp_path):
    srv = await UsageServer(make_config(db_url)).start()
    try:
        path = tmp_path / "agent.yaml"
        path.write_text(f"storage: {{url: 'http://127.0.0.1:{srv.port}', api_key: '{KEYS['writer']}',"
                        f" spool: '{tmp_path / 'spool.jsonl'}'}}\n")  # fmt: skip
        async with tracking.Tracker.from_config(path) as tracker:
            tracker.record(provider="openai", model="gpt-4o", input_tokens=5, room_id="!a:x")
            await tracker.flush()
        assert stored_count(db_url) == 1
    finally:
        await srv.close()


async def test_an_event_the_collector_refuses_is_set_aside_and_the_rest_stored(db_url, tmp_path):
    # The collector prices with its own overrides: at $10^9 per million tokens, a 5,000-token call would
    # cost more than any call may, which the tracker (priced without them) could not know.
    pricing = {"overrides": [{"match": "mycorp/gold-*", "input": 1_000_000_000, "output": 0}]}
    srv = await UsageServer(make_config(db_url, pricing=pricing)).start()
    spool = tmp_path / "spool.jsonl"
    try:
        async with tracking.Tracker(f"http://127.0.0.1:{srv.port}", api_key=KEYS["writer"], spool=spool) as tracker:
            tracker.record(provider="openai", model="gpt-4o", input_tokens=5, room_id="!a:x", event_id="fine-1")
            tracker.record(provider="mycorp", model="gold-1", input_tokens=5000, room_id="!a:x", event_id="gold")
            tracker.record(provider="openai", model="gpt-4o", input_tokens=5, room_id="!a:x", event_id="fine-2")
            await tracker.flush()
    finally:
        await srv.close()
    assert stored_count(db_url) == 2
    [refused] = [json.loads(line) for line in (tmp_path / "spool.jsonl.rejected.jsonl").read_text().splitlines()]
    assert refused["event"]["event_id"] == "gold"
    assert refused["rejected"].startswith("events[1]: cost_usd: mycorp/gold-1")


async def test_a_spool_left_by_a_killed_agent_is_sent_by_the_next_tracker(db_url, tmp_path):
    spool = tmp_path / "spool.jsonl"
    events = [{"event_id": f"left-{i}", "provider": "openai", "model": "gpt-4o", "input_tokens": i,
               "room_id": "!a:x", "ts": "2026-10-01T10:00:00+00:00"} for i in range(20)]  # fmt: skip
    dead = tmp_path / "spool.jsonl.sending-999999999"  # left by a tracker of the earlier scheme killed while sending
    dead.write_text("".join(json.dumps(e) + "\n" for e in events[:10]))
    spool.write_text("".join(json.dumps(e) + "\n" for e in events[10:]))
    srv = await UsageServer(make_config(db_url)).start()
    try:
        async with tracking.Tracker(f"http://127.0.0.1:{srv.port}", api_key=KEYS["writer"], spool=spool):
            await wait_for_count(db_url, 20)
    finally:
        await srv.close()
    assert stored_count(db_url) == 20 and not dead.exists() and not spool.exists()


async def test_a_redirect_is_never_followed_and_a_silent_collector_times_out(db_url, tmp_path, monkeypatch):
    """A redirect (here, as a proxy in front of a wrong URL might send, to a sign-in page that answers 200) is
    not delivery: the events wait in the spool. A server that never answers costs a request its timeout,
    not the tracker's flush forever."""
    srv = await UsageServer(make_config(db_url)).start()
    released = asyncio.Event()

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/sign-in")

    async def sign_in(request: web.Request) -> web.Response:
        return web.Response(text="<html>Sign in</html>", content_type="text/html")

    async def silent(request: web.Request) -> web.Response:
        await released.wait()
        return web.json_response({"stored": 0, "duplicates": 0, "rejected": []})

    app = web.Application()
    app.router.add_post("/redirect/v1/events", redirect)
    app.router.add_post("/silent/v1/events", silent)
    app.router.add_get("/sign-in", sign_in)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    other = f"http://127.0.0.1:{runner.addresses[0][1]}"
    monkeypatch.setattr(collector_client, "TOTAL_TIMEOUT_S", 0.5)
    try:
        for path in ("redirect", "silent"):
            spool = tmp_path / f"{path}.jsonl"
            async with tracking.Tracker(f"{other}/{path}", api_key=KEYS["writer"], spool=spool) as tracker:
                tracker.record(provider="openai", model="gpt-4o", input_tokens=5, room_id="!a:x", event_id=path)
                await tracker.flush()
                assert [json.loads(line)["event_id"] for line in spooled(spool)] == [path]
    finally:
        released.set()
        await runner.cleanup()
        await srv.close()
    assert stored_count(db_url) == 0


async def test_an_event_the_tracker_refuses_is_set_aside_too(db_url, tmp_path):
    """What a local tracker keeps in rejected_events, an HTTP tracker keeps in the spool's rejected file."""
    srv = await UsageServer(make_config(db_url)).start()
    spool = tmp_path / "spool.jsonl"
    try:
        async with tracking.Tracker(f"http://127.0.0.1:{srv.port}", api_key=KEYS["writer"], spool=spool) as tracker:
            tracker.record(provider="openai", model="gpt-4o", input_tokens=4, room_id="!a:x", event_id="good")
            tracker.record(provider="openai", model="gpt-4o", input_tokens=-4, room_id="!a:x", event_id="bad")
            await tracker.flush()
    finally:
        await srv.close()
    assert rows(db_url, "SELECT event_id FROM events") == [("good",)]
    [kept] = [json.loads(line) for line in (tmp_path / "spool.jsonl.rejected.jsonl").read_text().splitlines()]
    assert kept["rejected"] == "input_tokens: must not be negative, got -4" and kept["event"]["event_id"] == "bad"
