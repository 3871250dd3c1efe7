"""The dashboard is served in every mode: `usage-bot serve` alone, and the plugin (hence `usage-bot run`)."""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta

import aiohttp
from nio import AsyncClient

from matrix_usage_bot.bot.dashboard.routes import TOKEN_HEADER
from matrix_usage_bot.bot.dashboard.tokens import DashboardTokens
from matrix_usage_bot.bot.demo.homeserver import free_port
from matrix_usage_bot.bot.plugin import UsagePlugin
from matrix_usage_bot.tracking.store import open_store
from tests.command import USAGE_BOT

from .conftest import KITCHEN, dashboard_config

CONFIG = 'storage: {{url: "sqlite:///{db}"}}\nbot: {{timezone: Europe/Berlin}}\nhttp: {{listen: "127.0.0.1:{port}"}}\n'


async def token_for(db_url: str) -> str:
    store = await open_store(db_url)
    try:
        return (await DashboardTokens(store).issue(KITCHEN, timedelta(hours=1)))[0]
    finally:
        await store.close()


async def calls_shown(base: str, token: str) -> str:
    """The page answers, then its figures for March (retried while the server starts)."""
    async with aiohttp.ClientSession() as client:
        for _ in range(100):
            try:
                async with client.get(f"{base}/dashboard/") as page:
                    assert page.status == 200
                break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
        view = f"{base}/dashboard/api/view?period=2026-03-01..2026-03-31"
        async with client.get(view, headers={TOKEN_HEADER: token}) as r:
            assert r.status == 200
            return next(t["value"] for t in (await r.json())["tiles"] if t["label"] == "Calls")


async def test_usage_bot_serve_serves_the_dashboard(recorded, tmp_path):
    port = free_port()
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(db=recorded.removeprefix("sqlite:///"), port=port))
    proc = await asyncio.create_subprocess_exec(*USAGE_BOT, "serve", "-c", str(path),
                                                stderr=asyncio.subprocess.PIPE)  # fmt: skip
    try:
        token = await token_for(recorded)
        assert await calls_shown(f"http://127.0.0.1:{port}", token) == "5"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await proc.communicate()
    assert proc.returncode == 0 and token.encode() not in err


async def test_the_plugin_serves_the_dashboard_with_http_enabled(recorded):
    port = free_port()
    config = dashboard_config(recorded).model_copy(deep=True)
    config.http.listen = f"127.0.0.1:{port}"
    plugin = UsagePlugin(config)
    client = AsyncClient("http://127.0.0.1:9", "@usagebot:x")  # a host's client, never synced here
    await plugin.attach(client)
    try:
        assert await calls_shown(f"http://127.0.0.1:{port}", await token_for(recorded)) == "5"
    finally:
        await plugin.detach()
        await client.close()
