"""A host bot with its own commands embeds the plugin: answers, threads, warnings, detaching."""

from __future__ import annotations

import pytest
from nio import RoomMessageNotice, RoomMessageText

from matrix_usage_bot.bot import UsagePlugin
from matrix_usage_bot.bot.state import COMMAND

from .conftest import ask, dollars, price, record, replies_to

pytestmark = pytest.mark.synapse


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_the_host_answers_usage_and_its_own_commands(make_user, make_host, agents, encrypted):
    alice = await make_user("alice")
    host = await make_host()
    room = await alice.room_with(host, encrypted=encrypted)
    root = await alice.say(room, "an agent works on something here")
    record(agents, room, agent="researcher", user_id=alice.user_id, input_tokens=1200, output_tokens=300,
           cache_read_tokens=200, thread_id=root)  # fmt: skip
    record(agents, room, agent="coder", model="gpt-4o-mini", input_tokens=10_000, output_tokens=2_000)
    await agents.flush()
    researcher = price("gpt-4o", input_tokens=1200, cache_read_tokens=200, output_tokens=300)
    coder = price("gpt-4o-mini", input_tokens=10_000, output_tokens=2_000)

    summary = await ask(alice, host, room, "!usage")
    assert isinstance(summary, RoomMessageNotice) and summary.sender == host.user_id
    assert bool(summary.decrypted) is encrypted
    assert f"Today: 2 calls · 13.5k tokens (11.2k in, 2.3k out) · {dollars(researcher + coder)}" in summary.body
    agents_answer = await ask(alice, host, room, "!usage agents")
    rows = {line.split()[0]: line for line in agents_answer.body.splitlines()[1:] if line.strip()}
    assert "12,000" in rows["coder"] and dollars(coder) in rows["coder"]
    assert "1,500" in rows["researcher"] and dollars(researcher) in rows["researcher"]
    thread = await ask(alice, host, room, "!usage thread", thread_root=root)
    relation = thread.source["content"]["m.relates_to"]
    assert relation["rel_type"] == "m.thread" and relation["event_id"] == root
    assert f"1 call · 1.5k tokens (1.2k in, 300 out) · {dollars(researcher)}" in thread.body
    assert "coder" not in thread.body

    pong = await ask(alice, host, room, "!ping")
    assert pong.body == "pong" and pong.sender == host.user_id
    chatter = await alice.say(room, "hello, nothing for the plugin here")
    await ask(alice, host, room, "!ping")  # the host reads in order: the chatter came before
    assert (room, chatter, "hello, nothing for the plugin here") in host.seen
    assert chatter not in await host.plugin.store.claimed(COMMAND)
    await alice.sync()
    assert replies_to(alice, room, chatter) == []
    assert host.plugin.handles("!usage agents") and not host.plugin.handles("!ping")

    budget = await ask(alice, host, room, "!usage quota set room monthly 100k")
    assert budget.body == "Set this room's monthly token budget (soft); used so far: 13.5k of 100k tokens."
    record(agents, room, agent="coder", model="gpt-4o-mini", input_tokens=64_000, output_tokens=0)
    await agents.flush()
    warning = await alice.wait_for(
        lambda r, ev: r == room and ev.sender == host.user_id and isinstance(ev, RoomMessageText)
    )
    assert "75% of this room's monthly token budget used: 77.5k of 100k tokens" in warning.body
    assert warning.source["content"]["m.mentions"] == {"user_ids": [alice.user_id]}
    assert bool(warning.decrypted) is encrypted


async def test_after_detach_nothing_answers_and_the_host_carries_on(make_user, make_host, agents):
    alice = await make_user("alice")
    host = await make_host()
    room = await alice.room_with(host)
    on = await ask(alice, host, room, "!usage digest on 09:00")
    assert on.body.startswith("Daily digest on: every day at 09:00")
    plugin = host.plugin
    assert {job.id for job in plugin.scheduler.get_jobs()} >= {f"digest:{room}", "retention"}
    host_callbacks = [cb for cb in host.client.event_callbacks if getattr(cb.func, "__self__", None) is host]
    jobs_and_watcher = list(plugin._tasks)

    await plugin.detach()
    assert not plugin.attached and plugin.scheduler.get_jobs() == [] and not plugin.scheduler.running
    assert host.client.event_callbacks == host_callbacks  # exactly the plugin's callbacks went
    assert jobs_and_watcher and all(task.done() for task in jobs_and_watcher) and not plugin.link.timeline.tasks

    late = await alice.say(room, "!usage")
    pong = await ask(alice, host, room, "!ping")
    assert pong.body == "pong"
    assert (room, late, "!usage") in host.seen  # the host still reads everything
    await alice.sync()
    assert replies_to(alice, room, late) == []
    with pytest.raises(RuntimeError, match="attaches once"):
        await plugin.attach(host.client)


def test_the_plugin_is_importable_from_the_package():
    from matrix_usage_bot.bot.plugin import UsagePlugin as Direct

    assert UsagePlugin is Direct
