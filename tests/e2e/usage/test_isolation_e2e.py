"""No room's data in another room's answer: every command, in a plain room, an upgraded room and a once-direct room,
with a global quota, asked by a room admin and by a bot admin. A direct chat is the positive control."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from nio import DownloadResponse

from matrix_usage_bot.bot.commands import COMMANDS

from ..conftest import replies_to
from .conftest import record
from .test_quotas_e2e import ask

pytestmark = pytest.mark.synapse

SECRET = ("leakyagent", "leaky-model", "leaky-thread", "leaky-session", "777,777", "777.8k")

COMMANDS_TO_TRY = [
    "!usage", "!usage all", "!usage today", "!usage agents all", "!usage models all",
    "!usage providers all", "!usage users all", "!usage operations all", "!usage hours all",
    "!usage threads all", "!usage days all", "!usage thread all", "!usage me all", "!usage quota",
    "!usage rooms all", "!usage digest now", "!usage chart all", "!usage chart all by model", "!usage export all",
    "!usage help", "!usage quota set room daily 10k", "!usage quota clear room daily tokens", "!usage plan",
    "!usage digest on 09:00", "!usage digest off", "!usage nonsense",
    "!usage quota set agent plain-agent daily 10k", "!usage quota clear agent plain-agent daily tokens",
    "!usage quota set user @someone:localhost monthly $5", "!usage quota clear user @someone:localhost monthly usd",
    "!usage quota set everywhere user monthly $5", "!usage quota clear everywhere user monthly usd",
    "!usage quota set everywhere agent plain-agent daily 10k", "!usage quota clear everywhere agent daily tokens",
    "!usage quota set everywhere global monthly $500", "!usage quota clear everywhere global monthly usd",
    "!usage dashboard", "!usage dashboard revoke", "!usage whatif gpt-4o-mini all", "!usage savings all",
    "!usage me export", "!usage forget me", "!usage forget me confirm",  # refused outside a direct chat
]  # fmt: skip


def test_every_registered_command_is_tried():
    tried = [tuple(command.split()[1:]) for command in COMMANDS_TO_TRY]
    missing = [" ".join(c.path) for c in COMMANDS.commands if not any(t[: len(c.path)] == c.path for t in tried)]
    assert not missing, f"commands not tried for leaks: {missing}"


async def texts_of(user, answer) -> list[str]:
    """The body, the HTML and, for files, the file itself (CSV exports are text)."""
    content = answer.source["content"]
    found = [content.get("body", ""), content.get("formatted_body", "")]
    url = content.get("url")
    if url and content.get("msgtype") == "m.file":
        resp = await user.client.download(url)
        assert isinstance(resp, DownloadResponse), resp
        found.append(resp.body.decode())
    return found


async def assert_no_leak(user, bot, room: str, commands: list[str], secrets=SECRET) -> None:
    """Every command sent first, as a busy room would (the bot answers a few at a time), then each answer read."""
    sent = [(command, await user.say(room, command)) for command in commands]
    for _, event_id in sent:
        await user.wait_reply(room, event_id, bot.user_id)
    for command, event_id in sent:  # every reply seen by now: a chart's text and its image, for one
        for answer in [ev for r, ev in user.seen if r == room and replies_to(ev, event_id, bot.user_id)]:
            for text in await texts_of(user, answer):
                for secret in secrets:
                    assert secret not in text, (room, command, secret, text[:500])


async def test_no_room_leaks_into_another(make_user, make_usage_bot, agents):
    alice, eve, boss = await make_user("alice"), await make_user("eve"), await make_user("boss")
    bot = await make_usage_bot(
        admins=[boss.user_id],
        quotas={"defaults": [{"scope": "global", "window": "monthly", "limit": "100m"}]},
    )
    secret_room = await boss.room_with(bot)
    record(agents, secret_room, agent="leakyagent", model="leaky-model", thread_id="$leaky-thread",
           session_id="leaky-session", user_id=alice.user_id, input_tokens=777_777, output_tokens=0)  # fmt: skip

    plain = await alice.room_with(bot, others=[eve, boss])
    record(agents, plain, agent="plain-agent", user_id=alice.user_id, input_tokens=1_000, output_tokens=10)

    old = await alice.room_with(bot, others=[boss], public=True, room_version="11")
    record(agents, old, agent="old-agent", user_id=alice.user_id, input_tokens=2_000, output_tokens=20)
    upgraded = (await alice.api("POST", f"/_matrix/client/v3/rooms/{quote(old)}/upgrade", {"new_version": "11"}))
    new = upgraded["replacement_room"]
    await alice.join(new)
    await boss.join(new)
    await alice.wait_membership(new, bot.user_id, "join")

    once_direct = (await alice.client.room_create(invite=[bot.user_id], is_direct=True)).room_id
    await alice.wait_membership(once_direct, bot.user_id, "join")
    record(agents, once_direct, agent="dm-agent", user_id=alice.user_id, input_tokens=3_000, output_tokens=30)
    await agents.flush()
    for other in (eve, boss):
        await alice.client.room_invite(once_direct, other.user_id)
        await other.join(once_direct)

    for room in (plain, new, once_direct):
        await assert_no_leak(alice, bot, room, COMMANDS_TO_TRY)
        await assert_no_leak(boss, bot, room, ["!usage rooms all", "!usage all", "!usage me all", "!usage quota"])
    assert "old-agent" in (await ask(alice, bot, new, "!usage agents all")).body  # the lineage is kept

    dm = (await alice.client.room_create(invite=[bot.user_id], is_direct=True)).room_id
    await alice.wait_membership(dm, bot.user_id, "join")
    mine = await ask(alice, bot, dm, "!usage me all")  # the positive control: the detector sees a real answer
    assert "777,777" in mine.body or "777.8k" in mine.body
