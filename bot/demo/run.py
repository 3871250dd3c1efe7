"""The demo script itself: every step is printed as a transcript."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nio import AsyncClient, RoomMessageNotice, RoomSendResponse, SyncResponse

import tracking

from ..app import UsageBot
from ..config import Config
from .homeserver import LocalSynapse, free_port
from .provider import CannedUsage, StandInOpenAI
from .screenshot import screenshot, unavailable

PASSWORD = "demo password, loopback only"
AGENT_CALLS = [
    # (agent, model, in thread?, usage the stand-in server reports)
    ("researcher", "gpt-4o", True, CannedUsage(1200, 300, cached_tokens=200)),
    ("researcher", "gpt-4o", True, CannedUsage(2400, 500)),
    ("summarizer", "gpt-4o-mini", True, CannedUsage(3000, 400)),
    ("helpdesk", "gpt-4o-mini", False, CannedUsage(800, 120)),
]


async def demo(say: Callable[[str], None] = print, db_url: str | None = None, out: Path = Path(".demo")) -> None:
    """The demo; its usage store is a throwaway SQLite file, or db_url (e.g. a PostgreSQL database). The
    transcript and a screenshot of the room's dashboard are written to `out`."""
    lines: list[str] = []

    def note(line: str) -> None:
        lines.append(line)
        say(line)

    with tempfile.TemporaryDirectory(prefix="usage-bot-demo-") as tmp:
        work = Path(tmp)
        async with LocalSynapse(workdir=work / "homeserver") as hs:
            note(f"• homeserver: Synapse on {hs.base_url} (loopback, throwaway)")
            await _run(hs, work, note, db_url or f"sqlite:///{work / 'usage.db'}", _mkdir(out))
    note("• cleaned up: homeserver stopped, temporary files removed")
    (out / "transcript.txt").write_text("\n".join(lines) + "\n")


async def _run(hs: LocalSynapse, work: Path, say: Callable[[str], None], db_url: str, out: Path) -> None:
    alice_id, _ = await hs.aregister_user("alice", PASSWORD)
    bot_id, _ = await hs.aregister_user("usagebot", PASSWORD)
    port = free_port()
    config = Config.model_validate({
        "matrix": {"homeserver": hs.base_url, "user_id": bot_id, "password": PASSWORD,
                   "store_path": str(work / "bot-store"), "allowed_inviters": [alice_id]},
        "storage": {"url": db_url},
        # a small budget, so the demo shows a warning: the agents' 8,720 tokens cross 75% of it
        "quotas": {"defaults": [{"scope": "room", "window": "monthly", "limit": "11k"}]},
        "http": {"enabled": True, "listen": f"127.0.0.1:{port}", "public_url": f"http://127.0.0.1:{port}"},
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
        await _until(alice, lambda ev, r: r == room_id and ev.source.get("state_key") == bot_id
                     and ev.source.get("content", {}).get("membership") == "join")  # fmt: skip
        say(f"• alice created the room {room_id} and the bot joined it")
        root = await _send(alice, room_id, {"msgtype": "m.text", "body": "Research: what do our agents cost?"})
        say("alice: Research: what do our agents cost?   (a thread starts here)")
        await _agents_work(provider, db_url, room_id, alice_id, root, say)
        warning = await _until(alice, lambda ev, r: r == room_id and ev.sender == bot_id
                               and ev.source.get("content", {}).get("msgtype") == "m.text")  # fmt: skip
        mentioned = ", ".join(warning.source["content"].get("m.mentions", {}).get("user_ids", []))
        say(f"\nusage-bot (m.text, mentioning {mentioned}):\n" + _indent(warning.body))
        for command, thread in (("!usage", None), ("!usage agents", None), ("!usage thread", root)):
            answer = await _ask(alice, room_id, command, thread, bot_id)
            where = " (in the thread)" if thread else ""
            say(f"\nalice{where}: {command}\nusage-bot{where}:\n" + _indent(answer))
        await _dashboard(alice, room_id, bot_id, out, say)
    finally:
        await alice.close()
        await bot.close()
        bot_task.cancel()
        await asyncio.gather(bot_task, return_exceptions=True)
        await provider.stop()


async def _dashboard(alice: AsyncClient, room_id: str, bot_id: str, out: Path, say: Callable[[str], None]) -> None:
    """The last step: the room's dashboard link, and a picture of the page it opens."""
    answer = await _ask(alice, room_id, "!usage dashboard", None, bot_id)
    say("\nalice: !usage dashboard\nusage-bot:\n" + _indent(answer))
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


async def _ask(alice: AsyncClient, room_id: str, command: str, thread: str | None, bot_id: str) -> str:
    content: dict[str, Any] = {"msgtype": "m.text", "body": command}
    if thread:
        content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread, "is_falling_back": True,
                                   "m.in_reply_to": {"event_id": thread}}  # fmt: skip
    event_id = await _send(alice, room_id, content)

    def answers(ev: Any, r: str) -> bool:
        relation = ev.source.get("content", {}).get("m.relates_to") or {}
        return (r == room_id and isinstance(ev, RoomMessageNotice) and ev.sender == bot_id
                and (relation.get("m.in_reply_to") or {}).get("event_id") == event_id)  # fmt: skip

    return (await _until(alice, answers)).body


async def _send(client: AsyncClient, room_id: str, content: dict[str, Any]) -> str:
    resp = await client.room_send(room_id, "m.room.message", content)
    if not isinstance(resp, RoomSendResponse):
        raise RuntimeError(f"sending failed: {resp}")
    return resp.event_id


async def _until(client: AsyncClient, match: Callable[[Any, str], bool], timeout: float = 60) -> Any:
    async def search() -> Any:
        while True:
            resp = await client.sync(timeout=1000, sync_filter={"room": {"timeline": {"limit": 100}}})
            if not isinstance(resp, SyncResponse):
                raise RuntimeError(f"sync failed: {resp}")
            for room_id, info in resp.rooms.join.items():
                for ev in info.timeline.events:
                    if match(ev, room_id):
                        return ev

    return await asyncio.wait_for(search(), timeout)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def main(db_url: str | None = None, out: str = ".demo") -> int:
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(demo(db_url=db_url, out=Path(out)))
    return 0
