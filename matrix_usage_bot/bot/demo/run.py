"""The demo script itself: every step is printed as a transcript."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from nio import AsyncClient

from matrix_usage_bot import tracking

from ..app import UsageBot
from ..config import Config
from .chat import ask, indent, save_file, send, until
from .homeserver import LocalSynapse, free_port
from .provider import CannedUsage, StandInOpenAI
from .screenshot import screenshot, unavailable

PASSWORD = "demo password, loopback only"
HTTP_KEY = "demo-key-loopback-only-0123"
AGENT_CALLS = [
    # (agent, model, in thread?, usage the stand-in server reports)
    ("researcher", "gpt-4o", True, CannedUsage(1200, 300, cached_tokens=200)),
    ("researcher", "gpt-4o", True, CannedUsage(2400, 500)),
    ("summarizer", "gpt-4o-mini", True, CannedUsage(3000, 400)),
    ("helpdesk", "gpt-4o-mini", False, CannedUsage(800, 120)),
]
YESTERDAY = [  # (agent, model, tokens in, tokens out)
    ("researcher", "gpt-4o", 5000, 900),
    ("researcher", "gpt-4o", 3100, 650),
    ("summarizer", "gpt-4o-mini", 4200, 500),
]
WHAT_NEXT = """
What next:
  • the chart, the export and the dashboard's screenshot are in {out}/, beside this transcript
  • usage-bot demo --keep leaves the homeserver and the bot running: log in as alice and try !usage help
  • make sample ingests a month of sample usage and reports it in the terminal (usage-bot report --help)
  • record your own agents' usage: tracking.Tracker and tracking.instrument_openai (README, "Recording usage")
  • run the bot for your rooms: copy config.example.yaml, then usage-bot check-config -c config.yaml"""


async def demo(say: Callable[[str], None] = print, db_url: str | None = None, out: Path = Path(".demo"),
               keep: bool = False) -> None:  # fmt: skip
    """The demo; its usage store is a throwaway SQLite file, or db_url (e.g. a PostgreSQL database). The
    transcript, the chart, the export and a screenshot of the room's dashboard are written to `out`. With
    `keep`, the homeserver and the bot stay up at the end until Ctrl-C."""
    lines: list[str] = []

    def note(line: str) -> None:
        lines.append(line)
        say(line)

    with tempfile.TemporaryDirectory(prefix="usage-bot-demo-") as tmp:
        work = Path(tmp)
        async with LocalSynapse(workdir=work / "homeserver") as hs:
            note(f"• homeserver: Synapse on {hs.base_url} (loopback, throwaway)")
            await _run(hs, work, note, db_url or f"sqlite:///{work / 'usage.db'}", _mkdir(out), keep)
    note("• cleaned up: homeserver stopped, temporary files removed")
    (out / "transcript.txt").write_text("\n".join(lines) + "\n")


async def _run(hs: LocalSynapse, work: Path, say: Callable[[str], None], db_url: str, out: Path, keep: bool) -> None:
    alice_id, _ = await hs.aregister_user("alice", PASSWORD)
    bot_id, _ = await hs.aregister_user("usagebot", PASSWORD)
    port = free_port()
    config = Config.model_validate({
        "matrix": {"homeserver": hs.base_url, "user_id": bot_id, "password": PASSWORD,
                   "store_path": str(work / "bot-store"), "allowed_inviters": [alice_id]},
        "bot": {"timezone": "UTC"},
        "storage": {"url": db_url},
        # a small daily budget, so the demo shows a warning: today's 8,720 tokens cross 75% of it
        "quotas": {"defaults": [{"scope": "room", "window": "daily", "limit": "11k"}]},
        "http": {"enabled": True, "listen": f"127.0.0.1:{port}", "public_url": f"http://127.0.0.1:{port}",
                 "keys": [{"name": "demo", "key": HTTP_KEY, "rooms": "all"}]},
    })  # fmt: skip
    provider = await StandInOpenAI([usage for *_, usage in AGENT_CALLS]).start()
    bot = await UsageBot.open(config)
    bot_task = asyncio.create_task(bot.run_forever())
    alice = AsyncClient(hs.base_url, alice_id, store_path=str(_mkdir(work / "alice")))
    try:
        await asyncio.wait_for(bot.matrix.ready.wait(), 60)
        say(f"• bot {bot_id} is running")
        await alice.login(PASSWORD)
        room_id = (await alice.room_create(name="Research", invite=[bot_id])).room_id
        await until(alice, lambda ev, r: r == room_id and ev.source.get("state_key") == bot_id
                    and ev.source.get("content", {}).get("membership") == "join")  # fmt: skip
        say(f"• alice created the room {room_id} and the bot joined it")
        await _yesterday(db_url, room_id, alice_id, say)
        root = await send(alice, room_id, {"msgtype": "m.text", "body": "Research: what do our agents cost?"})
        say("alice: Research: what do our agents cost?   (a thread starts here)")
        await _agents_work(provider, db_url, room_id, alice_id, root, say)
        warning = await until(alice, lambda ev, r: r == room_id and ev.sender == bot_id
                              and ev.source.get("content", {}).get("msgtype") == "m.text")  # fmt: skip
        mentioned = ", ".join(warning.source["content"].get("m.mentions", {}).get("user_ids", []))
        say(f"\nusage-bot (m.text, mentioning {mentioned}):\n" + indent(warning.body))
        for command, thread in (("!usage", None), ("!usage agents today", None), ("!usage thread", root),
                                ("!usage quota", None), ("!usage digest now", None)):  # fmt: skip
            answer = await ask(alice, room_id, command, bot_id, thread)
            where = " (in the thread)" if thread else ""
            say(f"\nalice{where}: {command}\nusage-bot{where}:\n" + indent(answer.body))
        for command, name in (("!usage chart 7d", "chart.png"), ("!usage export 7d", "export.csv")):
            answer = await ask(alice, room_id, command, bot_id)
            path = await save_file(alice, answer, out, name)
            say(f"\nalice: {command}\nusage-bot ({answer.source['content']['msgtype']}, saved to {path}):\n"
                + indent(answer.body))
        await _http_call(port, room_id, say)
        await _dashboard(alice, room_id, bot_id, out, say)
        say(WHAT_NEXT.format(out=out))
        if keep:
            await _kept(hs, port, say)
    finally:
        await alice.close()
        await bot.close()
        bot_task.cancel()
        await asyncio.gather(bot_task, return_exceptions=True)
        await provider.stop()


async def _yesterday(db_url: str, room_id: str, user_id: str, say: Callable[[str], None]) -> None:
    """Yesterday's work, recorded with its own time, so the digest and the chart have a day before today."""
    noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
    async with tracking.Tracker(db_url) as tracker:
        for minutes, (agent, model, tokens_in, tokens_out) in enumerate(YESTERDAY):
            tracker.record(provider="openai", model=model, input_tokens=tokens_in, output_tokens=tokens_out,
                           room_id=room_id, agent=agent, user_id=user_id, ts=noon + timedelta(minutes=minutes))
    say(f"• yesterday the agents made {len(YESTERDAY)} calls in this room (recorded with their own time)")


async def _http_call(port: int, room_id: str, say: Callable[[str], None]) -> None:
    """What a script or Grafana sees: the same numbers over the HTTP API, with a key."""
    import aiohttp

    url = f"http://127.0.0.1:{port}/v1/usage?" + urlencode({"room": room_id, "period": "today", "by": "agent"})
    async with aiohttp.ClientSession() as client:
        async with client.get(url, headers={"Authorization": f"Bearer {HTTP_KEY}"}) as resp:
            body = await resp.json()
    totals = {k: body["totals"][k] for k in ("calls", "input_tokens", "output_tokens", "cost_usd")}
    say(f"\n$ curl -H 'Authorization: Bearer …' '{url}'\nHTTP {resp.status}: totals {json.dumps(totals)}, "
        f"rows {', '.join(row['key'] for row in body['rows'])}")


async def _kept(hs: LocalSynapse, port: int, say: Callable[[str], None]) -> None:
    say(f"\n• kept running (--keep): log in to {hs.base_url} as alice, password {PASSWORD!r}, with any Matrix"
        f" client; the HTTP API is on http://127.0.0.1:{port} (key {HTTP_KEY}). Ctrl-C stops everything.")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _dashboard(alice: AsyncClient, room_id: str, bot_id: str, out: Path, say: Callable[[str], None]) -> None:
    """The room's dashboard link, and a picture of the page it opens."""
    answer = (await ask(alice, room_id, "!usage dashboard", bot_id)).body
    say("\nalice: !usage dashboard\nusage-bot:\n" + indent(answer))
    link = answer.splitlines()[0].removeprefix("Dashboard of this room: ")
    missing = unavailable()
    if missing is not None:
        say(f"• no screenshot of the dashboard: {missing}")
        return
    await screenshot(link, out / "dashboard.png")
    say(f"• the dashboard of {room_id}: {link}\n• its screenshot: {out / 'dashboard.png'}"
        f" (beside this transcript, {out / 'transcript.txt'})")


async def _agents_work(provider: StandInOpenAI, db_url: str, room_id: str, user_id: str, root: str,
                       say: Callable[[str], None]) -> None:  # fmt: skip
    """The agents' process: the real OpenAI SDK, instrumented with one line, recording to the store."""
    from openai import AsyncOpenAI

    async with tracking.Tracker(db_url) as tracker:
        client = AsyncOpenAI(base_url=provider.url, api_key="not-needed-on-loopback")
        tracking.instrument_openai(client, tracker, provider="openai")  # priced as OpenAI: it stands in for it
        for agent, model, in_thread, _ in AGENT_CALLS:
            thread_id = root if in_thread else None
            with tracking.attribute(room_id=room_id, agent=agent, user_id=user_id, thread_id=thread_id):
                reply = await client.chat.completions.create(
                    model=model, messages=[{"role": "user", "content": "How much did we spend?"}]
                )
            u = reply.usage
            say(f"agent {agent} called {model}: {u.prompt_tokens} tokens in, {u.completion_tokens} out")
        await client.close()


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def main(db_url: str | None = None, out: str = ".demo", keep: bool = False) -> int:
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(demo(db_url=db_url, out=Path(out), keep=keep))
    return 0
