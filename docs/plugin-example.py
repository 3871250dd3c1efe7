"""A complete matrix-nio bot with a command of its own (!ping) and the usage plugin (!usage ...).

Run: HOMESERVER=https://matrix.example.org USER_ID=@mybot:example.org PASSWORD=... \
     USAGE_CONFIG=config.yaml python docs/plugin-example.py        (the config needs no matrix section)
"""

import asyncio
import logging
import os

from nio import AsyncClient, AsyncClientConfig, InviteMemberEvent, MatrixRoom, RoomMessageText

from matrix_usage_bot.bot import UsagePlugin


async def main() -> None:
    store = os.environ.get("STORE_PATH", "bot-store")
    os.makedirs(store, exist_ok=True)
    config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True)  # E2EE: encrypted rooms too
    client = AsyncClient(os.environ["HOMESERVER"], os.environ["USER_ID"], store_path=store, config=config)
    await client.login(os.environ["PASSWORD"], device_name="my bot")

    async def on_message(room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender != client.user_id and event.body.strip() == "!ping":
            relates = {"m.in_reply_to": {"event_id": event.event_id}}
            content = {"msgtype": "m.notice", "body": "pong", "m.relates_to": relates}
            await client.room_send(room.room_id, "m.room.message", content, ignore_unverified_devices=True)

    async def on_invite(room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == client.user_id and event.membership == "invite":
            await client.join(room.room_id)  # the host decides its joins; the plugin joins nothing

    client.add_event_callback(on_message, RoomMessageText)
    client.add_event_callback(on_invite, InviteMemberEvent)
    plugin = UsagePlugin.from_config(os.environ["USAGE_CONFIG"])
    await plugin.attach(client)  # before syncing: it sees what this sync brings
    try:
        await client.sync_forever(timeout=30_000, full_state=True)
    finally:
        await plugin.detach()
        await client.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    asyncio.run(main())
