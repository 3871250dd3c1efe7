"""Screenshots of a page with Debian's chromium driven by playwright (no browser download): the demo's
picture of its room's dashboard, and the browser the dashboard tests drive."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run")  # fmt: skip


def unavailable() -> str | None:
    """Why no browser can be driven here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; no browser download is needed)"
    return None


async def screenshot(url: str, path: Path, *, width: int = 1280, ready: str = "#table-agent") -> None:
    """The whole page at `url`, once `ready` is there, as a PNG at `path`."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(ARGS))
        try:
            page = await browser.new_page(viewport={"width": width, "height": 900})
            await page.goto(url)
            await page.wait_for_selector(ready, timeout=30_000)
            await page.screenshot(path=str(path), full_page=True)
        finally:
            await browser.close()
