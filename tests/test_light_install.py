"""The light install, for agent runtimes: `pip install matrix-usage-bot` gives the tracking library and its
stores without the bot's dependencies; and the package's one import path cannot collide with a project's own
`bot` or `tracking` module."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
ROOM = "!r:example.org"
BOT_ONLY = ("nio", "matplotlib", "apscheduler", "posthog", "prometheus_client")

AGENT = textwrap.dedent(
    """
    import asyncio, importlib.util, sys
    from zoneinfo import ZoneInfo

    from matrix_usage_bot import tracking
    from matrix_usage_bot.tracking.store import open_store

    missing = [m for m in sys.argv[2].split(",") if importlib.util.find_spec(m) is None]
    url = sys.argv[1]
    with tracking.Tracker(url) as tracker:
        with tracking.attribute(room_id="!r:example.org", agent="researcher"):
            tracker.record(provider="openai", model="gpt-4o", input_tokens=1000, output_tokens=200, ts=1793000000)

    async def report():
        store = await open_store(url)
        try:
            period = tracking.parse_period("2026-10", ZoneInfo("UTC"))
            return await tracking.usage_report(store, period, group="agent")
        finally:
            await store.close()

    rows = asyncio.run(report()).rows
    print(len(missing), rows[0].key, rows[0].calls, rows[0].input_tokens, rows[0].output_tokens, rows[0].cost_pusd)
    """
)


@pytest.fixture(scope="module")
def light_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with `pip install <this repository>`: no extras."""
    where = tmp_path_factory.mktemp("light") / "venv"
    venv.create(where, with_pip=True)
    python = where / "bin" / "python"
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(ROOT)],
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return python


def test_the_light_install_records_to_sqlite_and_reports_without_the_bots_dependencies(light_python, tmp_path):
    done = subprocess.run([str(light_python), "-c", AGENT, f"sqlite:///{tmp_path / 'usage.db'}", ",".join(BOT_ONLY)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    # 2026-10-26 05:33:20 UTC; gpt-4o at $2.50 in and $10 out per million tokens: 0.0025 + 0.002 = $0.0045
    assert done.stdout.split() == [str(len(BOT_ONLY)), "researcher", "1", "1000", "200", "4500000000"]


def test_the_light_install_reports_and_ingests_and_names_what_a_bot_command_needs(light_python, tmp_path):
    db = f"sqlite:///{tmp_path / 'usage.db'}"
    subprocess.run([str(light_python), "-c", AGENT, db, ""], cwd=tmp_path, check=True, timeout=120)
    report = subprocess.run([str(light_python), "-m", "matrix_usage_bot", "report", "--db", db, "--period", "2026-10",
                             "--by", "agent", "--tz", "UTC"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr[-3000:]
    assert "researcher" in report.stdout and "1,000" in report.stdout
    line = '{"provider": "openai", "model": "gpt-4o", "input_tokens": 10, "room_id": "!r:example.org"}'
    ingest = subprocess.run([str(light_python), "-m", "matrix_usage_bot", "ingest", "--db", db], input=line,
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert ingest.returncode == 0, ingest.stderr[-3000:]
    assert ingest.stdout.strip() == "stored 1, duplicates 0, skipped 0"
    chart = subprocess.run([str(light_python), "-m", "matrix_usage_bot", "chart", "--db", db, "--room", ROOM,
                            "--period", "2026-10", "--out", str(tmp_path / "c.png")], cwd=tmp_path, capture_output=True,
                           text=True, timeout=120)  # fmt: skip
    assert chart.returncode == 2
    assert chart.stderr.strip() == ("usage-bot chart: this needs the bot's dependencies (matplotlib is not installed):"
                                    " pip install 'matrix-usage-bot[bot]'")


def test_the_plugin_imports_beside_a_projects_own_bot_and_tracking_modules(tmp_path):
    (tmp_path / "bot.py").write_text("WHO = 'the project'\n")
    (tmp_path / "tracking").mkdir()
    (tmp_path / "tracking" / "__init__.py").write_text("WHO = 'the project too'\n")
    code = ("import bot, tracking\n"
            "from matrix_usage_bot.bot import UsagePlugin\n"
            "from matrix_usage_bot import tracking as usage\n"
            "print(bot.WHO, '|', tracking.WHO, '|', UsagePlugin.__name__, usage.Tracker.__name__)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "the project | the project too | UsagePlugin Tracker"
