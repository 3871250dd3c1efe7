"""Shared by the round-trip and memory benchmarks: a loopback Synapse, the usage bot in its own
process (`usage-bot run -c config.yaml`), the echo bot in its own process, and a real nio client
timing each command from send to the answer arriving in its sync."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from nio import AsyncClient, RoomSendResponse, SyncResponse

from matrix_usage_bot import tracking
from matrix_usage_bot.bot.demo.homeserver import LocalSynapse
from matrix_usage_bot.tracking.store.batch import ROLLUP_KEYS

from . import common, data

PASSWORD = "bench password"
BIN = Path(sys.executable).parent


@dataclass
class Client:
    client: AsyncClient
    seen: dict[str, str] = field(default_factory=dict)  # replied-to event id -> reply body

    async def sync(self, timeout_ms: int) -> None:
        resp = await self.client.sync(timeout=timeout_ms, sync_filter={"room": {"timeline": {"limit": 100}}})
        assert isinstance(resp, SyncResponse), resp
        for info in resp.rooms.join.values():
            for ev in info.timeline.events:
                rel = ev.source.get("content", {}).get("m.relates_to") or {}
                target = (rel.get("m.in_reply_to") or {}).get("event_id")
                if target:
                    self.seen[target] = ev.source["content"].get("body", "")

    async def ask(self, room_id: str, body: str, timeout: float = 60) -> tuple[float, str]:
        """Seconds from send to the reply arriving, and the reply's body."""
        started = time.perf_counter()
        resp = await self.client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": body})
        assert isinstance(resp, RoomSendResponse), resp
        deadline = started + timeout
        while resp.event_id not in self.seen:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no answer to {body!r} within {timeout}s")
            await self.sync(5000)
        return time.perf_counter() - started, self.seen.pop(resp.event_id)

    async def wait_joined(self, room_id: str, user_id: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            members = await self.client.joined_members(room_id)
            if user_id in [m.user_id for m in getattr(members, "members", [])]:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{user_id} did not join {room_id}")
            await asyncio.sleep(0.2)


@dataclass
class Session:
    hs: LocalSynapse
    client: Client
    room_bot: str
    room_echo: str
    bot_id: str
    echo_id: str
    bot_proc: subprocess.Popen
    echo_proc: subprocess.Popen
    db: Path


async def open_session(stack: AsyncExitStack, db: Path, workdir: Path, *, seed_events: int) -> Session:
    hs = await stack.enter_async_context(LocalSynapse())
    user_id, _ = await hs.aregister_user("bench", PASSWORD, admin=True)
    bot_id, _ = await hs.aregister_user("usagebot", PASSWORD)
    echo_id, _ = await hs.aregister_user("echobot", PASSWORD)
    config = {
        "matrix": {"homeserver": hs.base_url, "user_id": bot_id, "password": PASSWORD,
                   "store_path": str(workdir / "bot-store"), "allowed_inviters": [user_id],
                   "bot_admins": [user_id]},
        "bot": {"timezone": "Europe/Berlin"},
        "storage": {"url": f"sqlite:///{db}", "retention_days": None},
        "digests": {"enabled_by_default": False},
    }  # fmt: skip
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # set-up, before any timing: blocking calls are fine here
    bot_log = stack.enter_context(open(workdir / "bot.log", "w"))  # noqa: ASYNC230
    echo_log = stack.enter_context(open(workdir / "echo.log", "w"))  # noqa: ASYNC230
    bot_proc = subprocess.Popen(  # noqa: ASYNC220
        [str(BIN / "usage-bot"), "run", "-c", str(config_path), "--log-level", "WARNING"],
        stdout=bot_log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    stack.callback(_stop, bot_proc)
    echo_proc = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "bench.echo_bot", hs.base_url, echo_id, PASSWORD],
        stdout=echo_log, stderr=subprocess.STDOUT, env=env, cwd=common.ROOT,
    )  # fmt: skip
    stack.callback(_stop, echo_proc)
    nio = AsyncClient(hs.base_url, user_id)
    stack.push_async_callback(nio.close)
    await nio.login(PASSWORD)
    client = Client(nio)
    await client.sync(0)
    rooms = []
    for invitee in (bot_id, echo_id):
        resp = await nio.room_create(invite=[invitee])
        rooms.append(resp.room_id)
    for room, invitee in zip(rooms, (bot_id, echo_id), strict=True):
        await client.wait_joined(room, invitee, timeout=120)
    room_bot, room_echo = rooms
    if seed_events:  # this room has a month of usage, recorded through the tracker
        end = time.time()
        calls = data.calls(data.world(), seed_events, end - 20 * 86400, end, seed=99)
        async with tracking.Tracker(f"sqlite:///{db}") as tracker:
            for kw in calls:
                kw["room_id"] = room_bot
                tracker.record(**kw)
        stack.push_async_callback(_forget_room, db, room_bot)
    await client.sync(0)
    return Session(hs, client, room_bot, room_echo, bot_id, echo_id, bot_proc, echo_proc, db)


async def _forget_room(db: Path, room_id: str) -> None:
    """Leave the cached benchmark database as it was: drop this run's room from events and rollups."""
    import sqlite3

    def run() -> None:
        with sqlite3.connect(db) as conn:
            for table in ("events", *ROLLUP_KEYS):
                conn.execute(f"DELETE FROM {table} WHERE room_id = ?", (room_id,))

    await asyncio.to_thread(run)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def tempdir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="usage-bench-")
