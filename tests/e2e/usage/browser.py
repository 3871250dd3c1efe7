"""A real headless browser for the dashboard tests: Debian's chromium driven by playwright (no browser download).

`browser` launches it once per test; `open_page` opens a URL at a width and records every request the
page makes, so a test can say that none left the bot's address.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

import pytest

from matrix_usage_bot.bot.demo.homeserver import free_port
from matrix_usage_bot.bot.demo.screenshot import ARGS, CHROMIUM, unavailable

__all__ = ["browser", "free_port", "not_blank", "open_page"]


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Skipped where chromium or playwright is missing, except in CI (CI=true), where that fails."""
    missing = unavailable()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(missing, pytrace=False)
        pytest.skip(missing)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(ARGS))
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class OpenPage:
    page: Any
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    async def cells(self, table_id: str) -> list[list[str]]:
        return await self.page.eval_on_selector_all(
            f"#{table_id} tbody tr", "rows => rows.map(r => [...r.children].map(c => c.textContent))"
        )

    async def tiles(self) -> dict[str, str]:
        pairs = await self.page.eval_on_selector_all(
            "#tiles .tile", "tiles => tiles.map(t => [...t.children].map(c => c.textContent))"
        )
        return dict(pairs)

    async def status(self) -> str:
        return str(await self.page.text_content("#status"))


async def open_page(browser: Any, url: str, width: int = 1280, scheme: str = "light", ready: str = "#table-agent",
                    fake_clock: bool = False, **context: Any) -> OpenPage:  # fmt: skip
    """With `fake_clock`, the page's timers run only when the test moves its clock (`page.clock`)."""
    page = await browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme, **context)
    if fake_clock:
        await page.clock.install()
    opened = OpenPage(page)
    page.on("request", lambda request: opened.requests.append(request.url))
    page.on("pageerror", lambda error: opened.errors.append(str(error)))

    async def dismiss(dialog: Any) -> None:
        opened.dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", dismiss)
    await page.goto(url)
    await page.wait_for_selector(f"{ready}, #status.error", state="attached", timeout=30_000)
    return opened


def not_blank(png: bytes) -> tuple[float, int]:
    """(pixel standard deviation, colours) of a screenshot: a blank page has 0 and 1."""
    from PIL import Image, ImageStat

    image = Image.open(BytesIO(png)).convert("RGB")
    spread = sum(ImageStat.Stat(image).stddev) / 3
    return spread, len(image.getcolors(maxcolors=1 << 20) or [])
