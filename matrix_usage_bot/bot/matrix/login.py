"""Logging the bot's device in with an access token or a password, and uploading its E2EE keys."""

from __future__ import annotations

import logging

from nio import AsyncClient, KeysUploadError, LoginError, WhoamiError

from .events import MatrixSettings

log = logging.getLogger(__name__)


class BotLoginError(RuntimeError):
    """The homeserver refused the configured credentials."""


async def log_in(client: AsyncClient, s: MatrixSettings) -> None:
    if s.access_token:
        client.restore_login(s.user_id, s.device_id, s.access_token)
        who = await client.whoami()
        if isinstance(who, WhoamiError):
            raise BotLoginError(f"the access token for {s.user_id} was rejected: {who.status_code}")
        if who.device_id and who.device_id != s.device_id:
            raise BotLoginError(
                f"the access token belongs to device {who.device_id}, not the configured device_id {s.device_id}"
            )
    elif s.password:
        resp = await client.login(password=s.password, device_name="usage-bot")
        if isinstance(resp, LoginError):
            raise BotLoginError(f"login as {s.user_id} failed: {resp.status_code} {resp.message}")
    else:
        raise BotLoginError("matrix.password or matrix.access_token is required")
    if client.should_upload_keys:
        keys = await client.keys_upload()
        if isinstance(keys, KeysUploadError):
            log.error(
                "Uploading E2EE keys for device %s failed (%s). If the store under store_path was "
                "lost, delete the device or configure a new device_id.",
                client.device_id,
                keys.message,
            )
    log.info("Logged in as %s (device %s)", s.user_id, client.device_id)
