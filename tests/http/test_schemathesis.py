"""A property-based run of schemathesis against /openapi.json of the running server finds no 5xx.

Bounded: a fixed seed, 30 examples per operation, the coverage and fuzzing phases (a few seconds)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from matrix_usage_bot.bot.http.server import UsageServer

from .conftest import KEYS, make_config

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


async def test_no_server_errors(db_url, tmp_path):
    srv = await UsageServer(make_config(db_url)).start()
    try:
        run = await asyncio.create_subprocess_exec(
            str(SCHEMATHESIS), "run", f"http://127.0.0.1:{srv.port}/openapi.json",
            "-H", f"Authorization: Bearer {KEYS['admin']}", "--checks", "not_a_server_error",
            "--max-examples", "30", "--seed", "1", "--phases", "coverage,fuzzing", "--request-timeout", "10",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path,
        )  # fmt: skip
        output, _ = await asyncio.wait_for(run.communicate(), 240)
    finally:
        await srv.close()
    text = output.decode(errors="replace")
    assert run.returncode == 0, text[-4000:]
    assert "Tested: " in text and " passed" in text
