"""A far period in chat gets a short error and the usage line, never "Something went wrong"."""

from __future__ import annotations

import pytest

from .test_quotas_e2e import ask

pytestmark = pytest.mark.synapse


async def test_far_periods_answer_with_the_usage_line(make_user, make_usage_bot):
    alice = await make_user("alice")
    bot = await make_usage_bot()
    room = await alice.room_with(bot)
    for command, usage in (("!usage 9999-12-31", "!usage [P]"), ("!usage agents 9999-12", "!usage agents [P]"),
                           ("!usage chart 2026-01-01..9999-12-31", "!usage chart"),
                           ("!usage export 99999d", "!usage export [P]")):  # fmt: skip
        answer = await ask(alice, bot, room, command)
        assert "dates lie between 2000-01-01 and 2099-12-31" in answer.body or "between 1 and 3660" in answer.body
        assert usage in answer.body and "went wrong" not in answer.body
