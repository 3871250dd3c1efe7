"""The round trip's reference: a minimal matrix-nio bot that answers every text message with an m.notice.

    python -m bench.echo_bot HOMESERVER USER_ID PASSWORD
"""

from __future__ import annotations

import asyncio
import sys
import time

from nio import AsyncClient, InviteMemberEvent, MatrixRoom, RoomMessageText


async def main(homeserver: str, user_id: str, password: str) -> None:
    client = AsyncClient(homeserver, user_id)
    await client.login(password)
    since_ms = int(time.time() * 1000) - 1000  # answer nothing older than the start

    async def on_invite(room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == client.user_id and event.membership == "invite":
            await client.join(room.room_id)

    async def on_text(room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender == client.user_id or event.server_timestamp < since_ms:
            return
        content = {"msgtype": "m.notice", "body": f"echo: {event.body}",
                   "m.relates_to": {"m.in_reply_to": {"event_id": event.event_id}}}  # fmt: skip
        await client.room_send(room.room_id, "m.room.message", content)

    client.add_event_callback(on_invite, InviteMemberEvent)  # type: ignore[arg-type]
    client.add_event_callback(on_text, RoomMessageText)  # type: ignore[arg-type]
    print("ready", flush=True)
    await client.sync_forever(timeout=30_000)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
