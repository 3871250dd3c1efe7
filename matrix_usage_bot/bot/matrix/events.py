"""Pure helpers for the Matrix side: the command context, event filters and message content."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class MatrixSettings(Protocol):
    """The ``matrix`` config section the bot needs (``bot.config.MatrixConfig`` fits)."""

    homeserver: str
    user_id: str
    password: str | None
    access_token: str | None
    device_id: str
    store_path: Path
    allowed_inviters: list[str]
    bot_admins: list[str]


@dataclass
class SimpleMatrixSettings:
    """A plain ``MatrixSettings`` for tests and the demo."""

    homeserver: str
    user_id: str
    store_path: Path
    password: str | None = None
    access_token: str | None = None
    device_id: str = "USAGEBOT"
    allowed_inviters: list[str] | None = None
    bot_admins: list[str] | None = None

    def __post_init__(self) -> None:
        self.allowed_inviters = list(self.allowed_inviters or [])
        self.bot_admins = list(self.bot_admins or [])


@dataclass(frozen=True)
class CommandContext:
    room_id: str
    event_id: str
    sender: str
    body: str
    thread_root: str | None
    is_direct: bool
    encrypted: bool
    origin_server_ts: int = 0


def own_user_id(client: Any) -> str:
    """The account a nio client acts for: ``user_id`` once logged in, else the one it was built for
    (the standalone host attaches the plugin before its first login)."""
    return str(client.user_id or client.user or "")


def server_of(user_id: str) -> str:
    """The server name of a user id: the part after the first colon."""
    return user_id.partition(":")[2].lower()


def inviter_allowed(inviter: str, allowed: Iterable[str]) -> bool:
    """``allowed`` holds full user ids (``@alice:example.org``) or servers (``:example.org``)."""
    server = server_of(inviter)
    for entry in allowed:
        if entry.startswith("@") and entry == inviter:
            return True
        if entry.startswith(":") and server and entry[1:].lower() == server:
            return True
    return False


def is_command(body: str, prefix: str) -> bool:
    """``body`` starts with ``prefix`` followed by whitespace or the end of the text."""
    if not body.startswith(prefix):
        return False
    rest = body[len(prefix) :]
    return rest == "" or rest[0].isspace()


def is_own_join(ev: Any, user_id: str) -> bool:
    """A membership event in which ``user_id`` joined (not a profile change of someone already joined)."""
    return (
        getattr(ev, "state_key", None) == user_id
        and getattr(ev, "membership", None) == "join"
        and getattr(ev, "prev_membership", None) != "join"
        and ev.source.get("type") == "m.room.member"
    )


def relation(content: Mapping[str, Any]) -> Mapping[str, Any]:
    rel = content.get("m.relates_to")
    return rel if isinstance(rel, Mapping) else {}


def is_edit(content: Mapping[str, Any]) -> bool:
    return relation(content).get("rel_type") == "m.replace" or "m.new_content" in content


def thread_root_of(content: Mapping[str, Any]) -> str | None:
    rel = relation(content)
    if rel.get("rel_type") == "m.thread" and isinstance(rel.get("event_id"), str):
        return str(rel["event_id"])
    return None


def message_content(
    msgtype: str,
    plain: str,
    html: str | None = None,
    *,
    reply_to: str | None = None,
    thread_root: str | None = None,
    mentions: Iterable[str] | None = None,
) -> dict[str, Any]:
    """An ``m.room.message`` content with an optional HTML body, reply/thread relation and mentions.

    In a thread the reply is a thread fallback (``is_falling_back``) so thread-unaware
    clients still show it as a reply to the command.
    """
    content: dict[str, Any] = {"msgtype": msgtype, "body": plain}
    if html is not None:
        content["format"] = "org.matrix.custom.html"
        content["formatted_body"] = html
    if thread_root:
        rel: dict[str, Any] = {"rel_type": "m.thread", "event_id": thread_root, "is_falling_back": True}
        if reply_to:
            rel["m.in_reply_to"] = {"event_id": reply_to}
        content["m.relates_to"] = rel
    elif reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    if mentions is not None:
        content["m.mentions"] = {"user_ids": sorted(set(mentions))}
    return content


def parse_retry_after(value: str | None, now: float | None = None) -> int | None:
    """A ``Retry-After`` header (seconds or an HTTP date) in milliseconds."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value) * 1000
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    delay = when.timestamp() - (time.time() if now is None else now)
    return max(0, int(delay * 1000))
