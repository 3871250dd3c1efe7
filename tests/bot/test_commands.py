"""The command layer against a real SQLite store: parsing, scope, escaping, permissions, help."""

import random
import string
from zoneinfo import ZoneInfo

import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.bot.commands import COMMANDS as registry
from matrix_usage_bot.bot.commands.dispatch import Dispatcher
from matrix_usage_bot.bot.commands.registry import Arg, CommandError, Permission, Registry
from matrix_usage_bot.bot.commands.request import Services
from matrix_usage_bot.tracking.store import open_store

ROOM_A, ROOM_B = "!a:example.org", "!b:example.org"
ADMIN = "@boss:example.org"


@pytest.fixture
async def dispatcher(db_url):
    async with tracking.Tracker(db_url) as tracker:
        with tracking.attribute(room_id=ROOM_A, user_id="@alice:example.org"):
            tracker.record(provider="openai", model="gpt-4o", input_tokens=1200, output_tokens=300,
                           cache_read_tokens=200, agent="<b>x</b>&")  # fmt: skip
            tracker.record(provider="openai", model="gpt-4o", input_tokens=1000, output_tokens=100,
                           agent="researcher", thread_id="$root")  # fmt: skip
        tracker.record(provider="anthropic", model="claude-sonnet-4-5", input_tokens=999_999, output_tokens=7,
                       room_id=ROOM_B, agent="secret-agent-b", user_id="@alice:example.org")  # fmt: skip
    store = await open_store(db_url)
    services = Services(store, ZoneInfo("Europe/Berlin"), lambda room: (room,), {ROOM_B: "Room Bee"}.get, list)

    async def is_room_admin(room_id: str, user_id: str) -> bool:
        return user_id == "@roomadmin:example.org"

    yield Dispatcher(registry, services, is_room_admin=is_room_admin, is_bot_admin=lambda u: u == ADMIN)
    await store.close()


async def ask(d, body, room=ROOM_A, sender="@alice:example.org", thread=None, direct=False):
    return await d.answer(room_id=room, sender=sender, body=body, thread_root=thread, is_direct=direct)


async def test_room_summary_exact_and_scoped(dispatcher):
    answer = await ask(dispatcher, "!usage")
    assert "Today: 2 calls · 2.6k tokens (2.2k in, 400 out) · $0.0093" in answer.plain
    assert answer.plain.splitlines()[-1].split()[5] == "$0.0093"  # the total: 0.00575 + 0.0035, two digits
    for text in (answer.plain, answer.html):
        assert "secret-agent-b" not in text and "999,999" not in text and "Room Bee" not in text


async def test_agent_names_are_escaped_in_html(dispatcher):
    answer = await ask(dispatcher, "!usage agents")
    assert "&lt;b&gt;x&lt;/b&gt;&amp;" in answer.html and "<b>x</b>" not in answer.html
    assert "<b>x</b>&" in answer.plain


@pytest.mark.parametrize(
    "body", ["!usage rooms", "!usage all month", "!usage agents all", "!usage models 2020-01-01..2030-01-01"]
)
async def test_arguments_never_widen_the_scope(dispatcher, body):
    answer = await ask(dispatcher, body)
    assert "secret-agent-b" not in answer.html and ROOM_B not in answer.html and "999,999" not in answer.plain


async def test_bot_admin_sees_every_room_in_a_direct_chat_only(dispatcher):
    answer = await ask(dispatcher, "!usage rooms", sender=ADMIN, room="!dm:example.org", direct=True)
    assert "Room Bee (!b:example.org)" in answer.plain and "999,999" in answer.plain
    everything = await ask(dispatcher, "!usage all", sender=ADMIN, room="!dm:example.org", direct=True)
    assert "secret-agent-b" in everything.plain
    in_room = await ask(dispatcher, "!usage rooms", sender=ADMIN)
    assert "only in a direct chat" in in_room.plain and "Room Bee" not in in_room.plain
    refused = await ask(dispatcher, "!usage all")
    assert refused.plain == "Sorry, only bot admins may run !usage all [P]."


async def test_me_in_room_and_in_direct_chat(dispatcher):
    in_room = await ask(dispatcher, "!usage me")
    assert "Usage by @alice:example.org in this room" in in_room.plain and "secret-agent-b" not in in_room.plain
    direct = await ask(dispatcher, "!usage me month", room="!dm:example.org", direct=True)
    assert "in all rooms" in direct.plain and "Room Bee" in direct.plain and "1,002,606" in direct.plain
    other = await ask(dispatcher, "!usage me month", room="!dm2:example.org", sender="@bob:example.org", direct=True)
    assert "no usage" in other.plain


async def test_thread_only_inside_a_thread(dispatcher):
    assert "inside a thread" in (await ask(dispatcher, "!usage thread")).plain
    answer = await ask(dispatcher, "!usage thread", thread="$root")
    assert "researcher" in answer.plain and "<b>x</b>" not in answer.plain


async def test_help_comes_from_the_registry(dispatcher):
    answer = await ask(dispatcher, "!usage help")
    for command in registry.commands:
        assert " ".join(["!usage", *command.path]) in answer.plain
    assert "(bot admins only)" in answer.plain


@pytest.mark.parametrize(
    ("body", "error", "usage"),
    [
        ("!usage agnets", "unknown command or period 'agnets'", "!usage [P]"),
        ("!usage agents fortnight", "unknown period 'fortnight'", "!usage agents [P]"),
        ("!usage agents month extra", "unexpected 'extra'", "!usage agents [P]"),
        ("!usage 2026-02-30", "day is out of range", "!usage [P]"),
    ],
)
async def test_bad_commands_get_an_error_and_the_usage_line(dispatcher, body, error, usage):
    answer = await ask(dispatcher, body)
    assert error in answer.plain and f"Usage: {usage}" in answer.plain


async def test_200_random_malformed_commands_each_get_an_error(dispatcher):
    rng = random.Random(42)
    words = ["agents", "models", "me", "thread", "rooms", "help", "week", "30d", "2026-13", "..", "<script>", "&"]
    alphabet = string.ascii_letters + string.digits + string.punctuation + " éü€\u200b"
    for _ in range(200):
        junk = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))).strip() or "x"
        tokens = [rng.choice(words) for _ in range(rng.randint(0, 2))] + [junk, junk[::-1]]
        rng.shuffle(tokens)
        body = "!usage " + " ".join(tokens)
        answer = await ask(dispatcher, body)
        assert answer.plain.startswith(("⚠️", "Sorry", "Usage", "Ask")), body
        assert "<script>" not in answer.html


def test_registry_rules():
    reg = Registry()

    @reg.command("quota set", help="set", args=[Arg("scope", "room|agent"), Arg("amount", "AMOUNT", int)],
                 permission=Permission.ROOM_ADMIN)  # fmt: skip
    async def quota_set(req, scope, amount):
        return None

    with pytest.raises(ValueError, match="declared twice"):
        reg.command("quota set", help="again")(quota_set)
    command, args = reg.resolve("QUOTA set room 5")
    assert command.path == ("quota", "set") and args == {"scope": "room", "amount": 5}
    with pytest.raises(CommandError) as info:
        reg.resolve("quota set room lots")
    assert info.value.usage == "!usage quota set room|agent AMOUNT"
    with pytest.raises(CommandError, match="missing AMOUNT"):
        reg.resolve("quota set room")


async def test_a_long_room_name_is_cut_but_never_the_room_id(db_url):
    """`!usage rooms` labels a row "name (id)": a long name (say nio's names made of members' names) is cut
    to fit, the id stays whole, so the answer always says which room it is."""
    long_id = "!" + "R" * 43 + ":example.org"
    async with tracking.Tracker(db_url) as tracker:
        tracker.record(provider="openai", model="gpt-4o", input_tokens=10, output_tokens=1, room_id=long_id)
    store = await open_store(db_url)
    try:
        services = Services(store, ZoneInfo("UTC"), lambda room: (room,), {long_id: "N" * 90}.get, list)
        d = Dispatcher(registry, services, is_room_admin=lambda r, u: False, is_bot_admin=lambda u: u == ADMIN)
        answer = await ask(d, "!usage rooms", room="!dm:example.org", sender=ADMIN, direct=True)
    finally:
        await store.close()
    assert long_id in answer.plain and long_id in answer.html
    assert "N" * 20 in answer.plain and "N" * 90 not in answer.plain
