"""`usage-bot serve -c config.yaml` runs the API alone; `http.enabled` serves it inside the plugin."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys

import aiohttp
from nio import AsyncClient

from bot.plugin import UsagePlugin

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
        sys.executable, "-m", "bot.cli", "serve", "-c", str(path), stderr=asyncio.subprocess.PIPE,
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
            sys.executable, "-m", "bot.cli", "serve", "-c", str(path), stderr=asyncio.subprocess.PIPE,
            env={"USAGE_TEST_KEY": KEYS["admin"], "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert err.decode().strip().splitlines()[-1].startswith("usage-bot serve: cannot listen on 127.0.0.1:")
