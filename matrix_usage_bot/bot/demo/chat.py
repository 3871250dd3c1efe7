"""Alice's side of the demo: she sends to the room and waits for what the bot sends back, as any Matrix client."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nio import AsyncClient, MemoryDownloadResponse, RoomSendResponse, SyncResponse


async def ask(alice: AsyncClient, room_id: str, command: str, bot_id: str, thread: str | None = None) -> Any:
    """Send `command` (in `thread` if given) and return the bot's reply to it: a notice, or an image or file."""
    content: dict[str, Any] = {"msgtype": "m.text", "body": command}
    if thread:
        content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread, "is_falling_back": True,
                                   "m.in_reply_to": {"event_id": thread}}  # fmt: skip
    event_id = await send(alice, room_id, content)

    def answers(ev: Any, r: str) -> bool:
        relation = ev.source.get("content", {}).get("m.relates_to") or {}
        return (r == room_id and ev.sender == bot_id
                and (relation.get("m.in_reply_to") or {}).get("event_id") == event_id)  # fmt: skip

    return await until(alice, answers)


async def send(client: AsyncClient, room_id: str, content: dict[str, Any]) -> str:
    resp = await client.room_send(room_id, "m.room.message", content)
    if not isinstance(resp, RoomSendResponse):
        raise RuntimeError(f"sending failed: {resp}")
    return resp.event_id


async def until(client: AsyncClient, match: Callable[[Any, str], bool], timeout: float = 60) -> Any:
    """The first timeline event, from now on, that `match(event, room_id)` accepts."""

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


async def save_file(client: AsyncClient, event: Any, folder: Path, name: str) -> Path:
    """The file an m.image / m.file event carries (the demo's room is not encrypted), written to folder/name."""
    content = event.source["content"]
    if content.get("msgtype") not in ("m.image", "m.file") or "url" not in content:
        raise RuntimeError(f"expected a file, the bot answered: {content.get('body', '')[:200]}")
    resp = await client.download(mxc=content["url"])
    if not isinstance(resp, MemoryDownloadResponse):
        raise RuntimeError(f"downloading {content['url']} failed: {resp}")
    path = folder / name
    path.write_bytes(resp.body)
    return path


def indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
