"""docs/plugin-example.py, run as it is: a whole matrix-nio bot with `!ping` that embeds the plugin."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from ..conftest import PASSWORD, unique
from .conftest import dollars, price, record

pytestmark = pytest.mark.synapse

ROOT = Path(__file__).parents[3]


async def test_the_example_host_answers_ping_and_usage_then_detaches(synapse, make_user, agents, db_url, tmp_path):
    host_id, _ = await synapse.aregister_user(unique("example"), PASSWORD)
    config = tmp_path / "usage.yaml"
    config.write_text(f"storage:\n  url: {db_url}\nbot:\n  timezone: Europe/Berlin\n")
    env = {**os.environ, "HOMESERVER": synapse.base_url, "USER_ID": host_id, "PASSWORD": PASSWORD,
           "USAGE_CONFIG": str(config), "STORE_PATH": str(tmp_path / "store"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    log = tmp_path / "example.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "docs" / "plugin-example.py"), env=env, stdout=out, stderr=out
        )
    try:
        alice = await make_user("alice")
        room = await alice.create_room([host_id], encrypted=True)
        await alice.wait_membership(room, host_id, "join")
        await alice.wait_devices(host_id)
        ping = await alice.say(room, "!ping")
        assert (await alice.wait_reply(room, ping, host_id)).body == "pong"
        record(agents, room, agent="coder", model="gpt-4o-mini", input_tokens=10_000, output_tokens=2_000)
        await agents.flush()
        usage = await alice.say(room, "!usage agents")
        answer = await alice.wait_reply(room, usage, host_id)
        assert answer.decrypted and "1 call · 12k tokens (10k in, 2k out)" in answer.body
        assert "coder" in answer.body
        assert dollars(price("gpt-4o-mini", input_tokens=10_000, output_tokens=2_000)) in answer.body
    finally:
        proc.send_signal(signal.SIGINT)
        await proc.wait()
    assert "Usage plugin detached from " + host_id in log.read_text()
