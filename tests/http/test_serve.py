"""`usage-bot serve -c config.yaml` runs the API alone; `http.enabled` serves it inside the plugin."""

from __future__ import annotations

import asyncio
import signal
import socket
import threading

import aiohttp
import pytest
from nio import AsyncClient, RoomMessageText

from matrix_usage_bot.bot.plugin import UsagePlugin
from tests.command import USAGE_BOT

from .conftest import KEYS, bearer, make_config

CONFIG = """
storage: {{url: "sqlite:///{db}"}}
http:
  listen: 127.0.0.1:{port}
  keys:
    - {{name: agents, key: "${{USAGE_TEST_KEY}}", rooms: all, ingest: true}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def own_threads() -> set[threading.Thread]:
    """Threads but asyncio's own (the loop's executor, the child watcher), which outlive any one user."""
    return {t for t in threading.enumerate() if not t.name.startswith("asyncio")}


async def get_ok(url: str, headers: dict[str, str], attempts: int = 100) -> int:
    async with aiohttp.ClientSession() as client:
        for _ in range(attempts):
            try:
                async with client.get(url, headers=headers) as r:
                    return r.status
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered")


async def test_serve_runs_until_sigterm(tmp_path):
    port = free_port()
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(db=tmp_path / "usage.db", port=port))
    proc = await asyncio.create_subprocess_exec(
        *USAGE_BOT, "serve", "-c", str(path), stderr=asyncio.subprocess.PIPE,
        env={"USAGE_TEST_KEY": KEYS["admin"], "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    try:
        assert await get_ok(f"http://127.0.0.1:{port}/healthz", {}) == 200
        assert await get_ok(f"http://127.0.0.1:{port}/v1/usage", bearer("admin")) == 200
        assert await get_ok(f"http://127.0.0.1:{port}/v1/usage", bearer("reader")) == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert KEYS["admin"].encode() not in err  # keys never logged


WITHOUT_ACCOUNT = """
matrix: {{homeserver: "https://hs.example.net", user_id: "@meter:example.net", password: "${{METER_PASSWORD:-}}"}}
storage: {{url: "sqlite:///{db}"}}
http: {{listen: "127.0.0.1:{port}"}}
"""


async def test_serve_needs_no_matrix_login_and_says_when_it_has_no_keys(tmp_path):
    """Without Matrix, serve takes a config whose matrix section has no password (run would refuse it, and
    says so), and with no keys it warns, naming the key, instead of starting with only /healthz in silence."""
    port = free_port()
    path = tmp_path / "config.yaml"
    path.write_text(WITHOUT_ACCOUNT.format(db=tmp_path / "usage.db", port=port))
    env = {"PATH": "/usr/bin:/bin"}
    proc = await asyncio.create_subprocess_exec(*USAGE_BOT, "serve", "-c", str(path),
                                                stderr=asyncio.subprocess.PIPE, env=env)  # fmt: skip
    try:
        assert await get_ok(f"http://127.0.0.1:{port}/healthz", {}) == 200
        assert await get_ok(f"http://127.0.0.1:{port}/v1/usage", bearer("admin")) == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    warnings = [line for line in err.decode().splitlines() if " WARNING " in line]
    assert len(warnings) == 1 and warnings[0].endswith(
        "no API keys configured (http.keys): every endpoint but /healthz and the dashboard answers 401 until you"
        " add one"
    )
    for command in ("run", "check-config"):
        refused = await asyncio.create_subprocess_exec(*USAGE_BOT, command, "-c", str(path),
                                                       stderr=asyncio.subprocess.PIPE, env=env)  # fmt: skip
        _, err = await refused.communicate()
        assert refused.returncode == 2
        assert err.decode() == (f"usage-bot {command}: {path}: matrix: set password or access_token: usage-bot run"
                                " logs in with one of them (usage-bot serve and plugin mode do without)\n")


async def test_the_plugin_serves_the_api_with_http_enabled(db_url):
    port = free_port()
    plugin = UsagePlugin(make_config(db_url, listen=f"127.0.0.1:{port}"))
    client = AsyncClient("http://127.0.0.1:9", "@usagebot:x")  # a host's client; never synced here
    await plugin.attach(client)
    try:
        assert plugin.http is not None and plugin.http.port == port
        assert await get_ok(f"http://127.0.0.1:{port}/v1/usage", bearer("reader")) == 200
    finally:
        await plugin.detach()
        await client.close()
    assert plugin.http is None or plugin.http.store is None


async def test_serve_on_a_taken_port_says_so(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        path = tmp_path / "config.yaml"
        path.write_text(CONFIG.format(db=tmp_path / "usage.db", port=taken.getsockname()[1]))
        proc = await asyncio.create_subprocess_exec(
            *USAGE_BOT, "serve", "-c", str(path), stderr=asyncio.subprocess.PIPE,
            env={"USAGE_TEST_KEY": KEYS["admin"], "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert err.decode().strip().splitlines()[-1].startswith("usage-bot serve: cannot listen on 127.0.0.1:")


async def test_a_plugin_whose_port_is_taken_leaves_nothing_attached_and_attaches_once_when_freed(db_url):
    """attach() is all or nothing: it fails late (after the store, the notifier's PostHog thread and the
    rest are up) and everything is undone; attaching again once the port is free gives one set of callbacks."""
    client = AsyncClient("http://127.0.0.1:9", "@hostbot:x")  # the host's client; attach never reaches it
    client.add_event_callback(lambda room, event: None, RoomMessageText)  # the host's own
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    hook = {"url": "http://127.0.0.1:9/hook", "secret": "webhook-secret-0123456789"}
    posthog = {"api_key": "phc_k", "host": "http://127.0.0.1:9"}
    config = make_config(db_url, listen=f"127.0.0.1:{port}", webhooks=[hook], posthog=posthog)
    plugin = UsagePlugin(config)
    hosts_callbacks = list(client.event_callbacks)
    tasks, threads = asyncio.all_tasks(), own_threads()
    try:
        with pytest.raises(OSError):
            await plugin.attach(client)
    finally:
        taken.close()
    assert client.event_callbacks == hosts_callbacks
    assert not plugin.attached and plugin.http is None
    assert asyncio.all_tasks() == tasks  # no watcher, relay, digests or sweeper left running
    assert not plugin.scheduler.running and plugin.scheduler.get_jobs() == []
    for _ in range(100):  # the store's and PostHog's threads end once closed (a cap, not a time limit)
        if own_threads() == threads:
            break
        await asyncio.sleep(0.05)
    assert own_threads() == threads

    await plugin.attach(client)  # the cause fixed: the same plugin attaches
    try:
        added = client.event_callbacks[len(hosts_callbacks) :]
        assert client.event_callbacks[: len(hosts_callbacks)] == hosts_callbacks
        assert added and all(cb.func.__self__ is plugin.link.timeline for cb in added)
        assert len({(cb.func.__name__, cb.filter) for cb in added}) == len(added)  # each callback once
        assert await get_ok(f"http://127.0.0.1:{port}/v1/usage", bearer("reader")) == 200
    finally:
        await plugin.detach()
        await client.close()
    assert client.event_callbacks == hosts_callbacks
