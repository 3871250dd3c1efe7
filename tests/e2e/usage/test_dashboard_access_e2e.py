"""Who reaches a room's dashboard: the holder of its link, and nobody else. Changed, expired and revoked
links are refused in the browser and at every endpoint; another room's ids get nothing of it; revocation
is for room admins; the widget follows the bot's power level and ends with the links."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import aiohttp
import pytest

from matrix_usage_bot.bot.dashboard.routes import TOKEN_HEADER
from matrix_usage_bot.bot.dashboard.tokens import DashboardTokens
from matrix_usage_bot.bot.dashboard.widget import WIDGET_EVENT, WIDGET_ID

from .browser import free_port, open_page
from .conftest import record
from .test_dashboard_e2e import dashboard_sections
from .test_quotas_e2e import ask

pytestmark = pytest.mark.synapse
SECRETS = ("intruder", "999,999", "mallory")


def link_of(answer) -> str:
    found = re.search(r"http://127\.0\.0\.1:\d+/dashboard/#token=([\w.-]+)", answer.body)
    assert found, answer.body
    return found[0]


def token_of(link: str) -> str:
    return link.split("#token=")[1]


def changed(token: str, **claims: object) -> str:
    """The token with its payload changed and its signature kept."""
    version, payload, mac = token.split(".")
    values = {**json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))), **claims}
    encoded = base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{version}.{encoded}.{mac}"


async def refused_in_browser(browser, link: str, words: str) -> None:
    opened = await open_page(browser, link)
    status = await opened.status()
    assert status.startswith("Refused: ") and words in status, status
    assert await opened.page.is_hidden("#content")
    text = await opened.page.text_content("body")
    assert not any(secret in text for secret in SECRETS) and "researcher" not in text
    assert all(url.startswith(link.split("/dashboard/")[0]) for url in opened.requests)
    await opened.page.close()


async def test_changed_expired_and_revoked_links_get_a_refusal_and_nothing_else(
    make_user, make_usage_bot, agents, browser
):
    port = free_port()
    alice, bob = await make_user("alice"), await make_user("bob")
    bot = await make_usage_bot(**dashboard_sections(port))
    room = await alice.room_with(bot, others=[bob])
    other = await alice.room_with(bot)
    record(agents, room, agent="researcher", input_tokens=5_000, output_tokens=500)
    record(agents, other, agent="intruder", input_tokens=999_999, output_tokens=1, user_id="@mallory:localhost")
    await agents.flush()

    link = link_of(await ask(bob, bot, room, "!usage dashboard"))  # any member gets one
    other_link = link_of(await ask(alice, bot, other, "!usage dashboard"))
    token, base = token_of(link), link.split("#")[0]
    opened = await open_page(browser, link)
    assert (await opened.tiles())["Calls"] == "1" and "intruder" not in await opened.page.text_content("body")

    expires = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))["exp"]
    tampered = [
        changed(token, room=other),
        changed(token, exp=expires + 86_400 * 365),
        changed(token, gen=1),
        token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"),
        token.split(".")[0] + "." + token_of(other_link).split(".")[1] + "." + token.split(".")[2],
    ]
    for bad in tampered:
        await refused_in_browser(browser, f"{base}#token={bad}", "not valid")
    await refused_in_browser(browser, base, "needs the link")
    store = bot.app.plugin.store
    past = datetime.now(UTC) - timedelta(days=8)
    expired, _ = await DashboardTokens(store, lambda: past).issue(room, timedelta(days=7))
    await refused_in_browser(browser, f"{base}#token={expired}", "has expired")

    async with aiohttp.ClientSession() as client:
        for path in ("api/view", "api/export.csv"):
            for name in ("room", "room_id", "period", "by", "width", "token", "rooms"):
                async with client.get(f"{base}{path}?{name}={quote(other)}", headers={TOKEN_HEADER: token}) as r:
                    body = await r.text()
                    assert r.status == 400 and not any(s in body for s in SECRETS) and other not in body, (path, name)
            for bad in tampered:
                async with client.get(f"{base}{path}", headers={TOKEN_HEADER: bad}) as r:
                    assert r.status == 401 and "not valid" in (await r.json())["error"]

    refused = await ask(bob, bot, room, "!usage dashboard revoke")
    assert refused.body == "Sorry, only this room's admins and bot admins may run !usage dashboard revoke."
    await opened.page.reload()
    await opened.page.wait_for_selector("#table-agent")
    revoked = await ask(alice, bot, room, "!usage dashboard revoke")
    assert revoked.body == "Every dashboard link of this room is revoked; !usage dashboard gives a new one."
    await refused_in_browser(browser, link, "was revoked")
    still = await open_page(browser, other_link)  # another room's links live on
    assert "intruder" in await still.page.text_content("#table-agent")
    fresh = await open_page(browser, link_of(await ask(alice, bot, room, "!usage dashboard")))
    assert (await fresh.tiles())["Calls"] == "1"


async def widget_content(user, room: str) -> dict:
    path = f"/_matrix/client/v3/rooms/{quote(room)}/state/{WIDGET_EVENT}/{WIDGET_ID}"
    return await user.api("GET", path)


async def test_the_widget_follows_the_bots_power_and_ends_with_the_links(make_user, make_usage_bot, agents, browser):
    port = free_port()
    alice = await make_user("alice")
    bot = await make_usage_bot(**dashboard_sections(port, widget=True))
    room = await alice.room_with(bot)
    record(agents, room, agent="researcher", input_tokens=2_000, output_tokens=100)
    await agents.flush()

    powerless = await ask(alice, bot, room, "!usage dashboard")
    assert "I could not add it as a widget: my power level here does not allow it." in powerless.body

    path = f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.power_levels/"
    levels = await alice.api("GET", path)
    levels.setdefault("users", {})[bot.user_id] = 50
    await alice.api("PUT", path, levels)
    for _ in range(300):  # until the bot has synced its new level
        if bot.app.matrix.client.rooms[room].power_levels.get_user_level(bot.user_id) == 50:
            break
        await asyncio.sleep(0.1)

    answer = await ask(alice, bot, room, "!usage dashboard")
    assert "The room's Usage widget shows it too." in answer.body
    content = await widget_content(alice, room)
    assert content["type"] == "m.custom" and content["id"] == WIDGET_ID and content["name"] == "Usage"
    assert content["creatorUserId"] == bot.user_id and content["url"].startswith(f"http://127.0.0.1:{port}/dashboard/#token=")
    assert content["url"] == link_of(answer)
    widget = await open_page(browser, content["url"])
    assert (await widget.tiles())["Calls"] == "1"

    revoked = await ask(alice, bot, room, "!usage dashboard revoke")
    assert revoked.body.endswith("The widget is removed.")
    assert await widget_content(alice, room) == {}
    await refused_in_browser(browser, content["url"], "was revoked")
