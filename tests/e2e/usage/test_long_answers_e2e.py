"""A breakdown of hundreds of rows: the top rows, a "(k more)" row and a pointer to the export, under 64 KiB."""

from __future__ import annotations

import json

import pytest

from .conftest import record
from .test_quotas_e2e import ask

pytestmark = pytest.mark.synapse


async def test_400_threads_answer_with_the_top_rows(make_user, make_usage_bot, agents):
    alice = await make_user("alice")
    bot = await make_usage_bot()
    room = await alice.room_with(bot)
    for i in range(400):
        thread = f"${i:03d}" + "x" * 200  # long names too
        record(agents, room, thread_id=thread, input_tokens=1_000 + i, output_tokens=0, event_id=f"t{i}")
    await agents.flush()

    answer = await ask(alice, bot, room, "!usage threads all")
    content = answer.source["content"]
    assert len(json.dumps(answer.source).encode()) < 64 * 1024
    lines = answer.body.splitlines()
    assert lines[0].startswith("Usage in this room by thread, all time: 400 calls")
    assert answer.body.endswith("Showing 40 of 400 rows; !usage export gives every call as CSV.")
    rows = [line for line in lines if line.startswith("$")]
    assert len(rows) == 40
    assert rows[0].startswith("$399" + "x" * 75 + "…") and " 1,399 " in rows[0]  # the largest first, name cut
    assert rows[-1].startswith("$360")
    more = next(line for line in lines if line.startswith("(360 more)"))
    assert f" {sum(1_000 + i for i in range(360)):,} " in more
    assert "(360 more)" in content["formatted_body"]
