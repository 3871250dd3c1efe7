"""`!usage chart` and `!usage export` against the real Synapse: m.image / m.file, plain and encrypted
rooms, threads; the files are downloaded (and decrypted) and checked against what was recorded."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime

import pytest
from nio import MemoryDownloadResponse, RoomMessageNotice
from nio.crypto.attachments import decrypt_attachment
from PIL import Image

from matrix_usage_bot.bot.commands import files
from matrix_usage_bot.bot.render.chart import png_size, render_png

from .conftest import record

pytestmark = pytest.mark.synapse

MARCH = datetime(2025, 3, 10, 9, tzinfo=UTC).timestamp()  # a fixed period, so no test depends on today
DAY = 86400


async def ask_file(user, bot, room, body, thread_root=None):
    event_id = await user.say(room, body, thread_root=thread_root)
    return await user.wait_reply(room, event_id, bot.user_id, timeout=60)


async def download(user, content) -> bytes:
    """The file of an m.image / m.file content, decrypted when it was sent encrypted."""
    encrypted = content.get("file")
    resp = await user.client.download(mxc=encrypted["url"] if encrypted else content["url"])
    assert isinstance(resp, MemoryDownloadResponse), resp
    if not encrypted:
        return resp.body
    return decrypt_attachment(resp.body, encrypted["key"]["k"], encrypted["hashes"]["sha256"], encrypted["iv"])


def check_png(data: bytes, info: dict) -> None:
    assert info["mimetype"] == "image/png" and info["size"] == len(data)
    assert png_size(data) == (info["w"], info["h"])
    Image.open(io.BytesIO(data)).verify()
    colours = Image.open(io.BytesIO(data)).convert("RGB").getcolors(maxcolors=1 << 20)
    assert len(colours) > 50  # a chart, not a blank image


@pytest.fixture
def drawn(monkeypatch):
    """Every ChartData handed to the plotting code by the bot."""
    seen = []

    def spy(data):
        seen.append(data)
        return render_png(data)

    monkeypatch.setattr(files, "render_png", spy)
    return seen


async def test_chart_as_image_in_a_room_and_in_a_thread(make_user, make_usage_bot, agents, drawn):
    alice = await make_user("alice")
    bot = await make_usage_bot()
    room = await alice.room_with(bot)
    other = await alice.room_with(bot)
    record(agents, room, agent="researcher", input_tokens=1000, output_tokens=200, ts=MARCH)
    record(agents, room, agent="coder", input_tokens=3000, output_tokens=500, ts=MARCH)
    record(agents, room, agent="coder", model="gpt-4o-mini", input_tokens=700, output_tokens=70, ts=MARCH + 2 * DAY)
    record(agents, other, agent="intruder", input_tokens=999_999, output_tokens=1, ts=MARCH)
    await agents.flush()

    reply = await ask_file(alice, bot, room, "!usage chart 2025-03")
    content = reply.source["content"]
    assert content["msgtype"] == "m.image" and content["url"].startswith("mxc://")
    assert content["filename"].endswith(".png") and "intruder" not in content["body"]
    assert "5.5k tokens" in content["body"] and "coder 4.3k, researcher 1.2k" in content["body"]
    check_png(await download(alice, content), content["info"])
    series = drawn[-1]
    assert series.series["coder"][9] == 3500 and series.series["coder"][11] == 770
    assert series.series["researcher"][9] == 1200 and sum(series.day_tokens()) == 5470
    assert "intruder" not in series.series and len(series.days) == 31

    root = await alice.say(room, "How much did the models cost?")
    threaded = await ask_file(alice, bot, room, "!usage chart 2025-03 by model", thread_root=root)
    relation = threaded.source["content"]["m.relates_to"]
    assert relation["rel_type"] == "m.thread" and relation["event_id"] == root
    assert threaded.source["content"]["msgtype"] == "m.image"
    assert set(drawn[-1].series) == {"gpt-4o", "gpt-4o-mini"}

    empty = await ask_file(alice, bot, room, "!usage chart 2024-01")
    assert isinstance(empty, RoomMessageNotice)
    assert empty.body == "No usage in this room, January 2024: nothing to chart."


async def test_chart_and_export_in_an_encrypted_room(make_user, make_usage_bot, agents, drawn):
    alice = await make_user("alice")
    bot = await make_usage_bot()
    room = await alice.room_with(bot, encrypted=True)
    record(agents, room, agent="secretive", input_tokens=4200, output_tokens=42, ts=MARCH, event_id="enc-1")
    await agents.flush()

    chart = await ask_file(alice, bot, room, "!usage chart 2025-03")
    content = chart.source["content"]
    assert chart.decrypted and content["msgtype"] == "m.image" and "url" not in content
    assert content["file"]["url"].startswith("mxc://") and content["file"]["v"] == "v2"
    check_png(await download(alice, content), content["info"])
    assert drawn[-1].series == {"secretive": [0] * 9 + [4242] + [0] * 21}

    export = await ask_file(alice, bot, room, "!usage export 2025-03")
    content = export.source["content"]
    assert export.decrypted and content["msgtype"] == "m.file" and "file" in content and "url" not in content
    rows = list(csv.DictReader(io.StringIO((await download(alice, content)).decode())))
    assert [r["event_id"] for r in rows] == ["enc-1", "TOTAL"] and rows[0]["total_tokens"] == "4242"


async def test_export_has_exactly_this_rooms_events_of_the_period(make_user, make_usage_bot, agents):
    alice = await make_user("alice")
    bot = await make_usage_bot()
    room = await alice.room_with(bot)
    other = await alice.room_with(bot)
    mine = [f"mine-{n}" for n in range(25)]
    for n, event_id in enumerate(mine):
        record(agents, room, agent=f"agent-{n % 3}", input_tokens=100 + n, output_tokens=n, ts=MARCH + n * 3600,
               event_id=event_id)  # fmt: skip
    record(agents, room, agent="too-late", input_tokens=5, output_tokens=5, ts=MARCH + 40 * DAY, event_id="april")
    for n in range(10):
        record(agents, other, agent="other", input_tokens=1, output_tokens=1, ts=MARCH + n, event_id=f"theirs-{n}")
    await agents.flush()

    reply = await ask_file(alice, bot, room, "!usage export 2025-03")
    content = reply.source["content"]
    assert content["msgtype"] == "m.file" and content["info"]["mimetype"] == "text/csv"
    data = await download(alice, content)
    assert content["info"]["size"] == len(data) and content["filename"] == "usage-2025-03-01_2025-03-31.csv"
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert [r["event_id"] for r in rows] == [*mine, "TOTAL"]
    assert {r["room_id"] for r in rows[:-1]} == {room}
    assert rows[-1]["calls"] == "25" and rows[-1]["input_tokens"] == str(sum(100 + n for n in range(25)))
    assert "25 rows" in content["body"]


async def test_an_export_over_the_upload_limit_is_refused_in_words(make_user, make_usage_bot, agents):
    alice = await make_user("alice")
    bot = await make_usage_bot()
    room = await alice.room_with(bot)
    record(agents, room, agent="a", input_tokens=10, output_tokens=1, ts=MARCH)
    await agents.flush()
    sender = bot.app.outbox.sender
    assert (await sender.upload_limit() or 0) > 1_000_000  # read from Synapse's /media/config
    sender._upload_limit, sender._upload_limit_at = 100, time.monotonic()  # a tiny homeserver limit

    reply = await ask_file(alice, bot, room, "!usage export 2025-03")
    assert isinstance(reply, RoomMessageNotice)
    assert "more than this homeserver accepts (0.1 kB)" in reply.body and "!usage export 7d" in reply.body
