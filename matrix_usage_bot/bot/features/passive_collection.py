"""Passive collection of MindRoom usage from agent messages (`ingest.mindroom: true`).

MindRoom streams a reply by editing it; each original event is counted once, with its final
usage. The Matrix event id of the original is the idempotency key, so history read again after
a restart is not counted twice. A message still streaming is skipped: its final edit follows.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from matrix_usage_bot.tracking import Tracker
from matrix_usage_bot.tracking.fields import MINDROOM
from matrix_usage_bot.tracking.settings import TrackingSettings

log = logging.getLogger(__name__)

STREAM_STATUS_KEY = "io.mindroom.stream_status"
FINAL_STREAM_STATUSES = frozenset({"completed", "interrupted", "error", "failed", "cancelled", "canceled"})


def final_content(
    event_id: str, content: dict[str, Any], thread_of: dict[str, str]
) -> tuple[str, dict[str, Any]] | None:
    """(original event id, content to count) for a finished message or its final edit, else None.

    An edit's `m.new_content` carries no thread relation; the original's thread comes from `thread_of`.
    """
    relation = content.get("m.relates_to") or {}
    if relation.get("rel_type") == "m.replace":
        new_content = content.get("m.new_content")
        original = relation.get("event_id")
        if not isinstance(new_content, dict) or not isinstance(original, str):
            return None
        thread = thread_of.get(original)
        thread_relation = {"rel_type": "m.thread", "event_id": thread} if thread else {}
        event_id, content = original, {**new_content, "m.relates_to": thread_relation}
    status = content.get(STREAM_STATUS_KEY)
    if status is not None and str(status).lower() not in FINAL_STREAM_STATUSES:
        return None
    return event_id, content


SenderLookup = Callable[[str, str], Awaitable[str | None]]


def trusted_agent(sender: str, entries: Sequence[str], prefix: str, own_server: str) -> bool:
    """Whether ``sender`` is a configured agent account (see ``ingest.mindroom_agents``)."""
    localpart, _, server = sender.removeprefix("@").partition(":")
    if not entries:
        return server.lower() == own_server.lower() and localpart.startswith(prefix)
    for entry in entries:
        if entry.startswith("@") and fnmatch.fnmatchcase(sender, entry):
            return True
        if entry.startswith(":") and server.lower() == entry[1:].lower() and localpart.startswith(prefix):
            return True
    return False


class PassiveCollector:
    """Records MindRoom usage seen in rooms through a Tracker of its own (the bot's writer).

    That tracker is built from the same tracking settings as the agents' trackers and `ingest`, so a
    passively collected call is priced with the same overrides as one recorded by a hook.

    Only trusted agent accounts are counted, and an edit only when its sender sent the original:
    Matrix lets anyone send an `m.replace` naming any event, and an edit counted under the
    original's id would shut out the agent's real final edit as a duplicate.
    """

    def __init__(
        self,
        settings: TrackingSettings,
        *,
        own_server: str,
        agents: Sequence[str] = (),
        agent_prefix: str = "mindroom_",
        sender_of: SenderLookup | None = None,
        remember: int = 10_000,
    ) -> None:
        self.tracker = Tracker.from_settings(settings, source=MINDROOM)  # the config's store and price overrides
        self.own_server = own_server
        self.agents = list(agents)
        self.agent_prefix = agent_prefix
        self.sender_of = sender_of
        self._threads: dict[str, str] = {}
        self._senders: dict[str, str] = {}
        self._remember = remember

    async def start(self) -> None:
        await asyncio.to_thread(self.tracker.start)

    async def close(self) -> None:
        await self.tracker.aclose()

    def _note(self, table: dict[str, str], key: str, value: str) -> None:
        table[key] = value
        if len(table) > self._remember:
            table.pop(next(iter(table)))

    async def observe(
        self, room_id: str, event_id: str, sender: str, content: dict[str, Any], origin_server_ts: int
    ) -> None:
        relation = content.get("m.relates_to") or {}
        if relation.get("rel_type") == "m.thread" and isinstance(relation.get("event_id"), str):
            self._note(self._threads, event_id, relation["event_id"])
        if relation.get("rel_type") != "m.replace":
            self._note(self._senders, event_id, sender)
        if "io.mindroom.ai_run" not in content and "io.mindroom.ai_run" not in (content.get("m.new_content") or {}):
            return
        if not trusted_agent(sender, self.agents, self.agent_prefix, self.own_server):
            log.warning("ignoring MindRoom usage from %s in %s: not a trusted agent account", sender, room_id)
            return
        found = final_content(event_id, content, self._threads)
        if found is None:
            return
        original_id, final = found
        if original_id != event_id and await self._original_sender(room_id, original_id) != sender:
            log.warning("ignoring %s's edit of %s in %s: only the original's sender may change its usage",
                        sender, original_id, room_id)  # fmt: skip
            return
        from matrix_usage_bot.tracking.hooks.mindroom import fields_from_matrix

        try:
            fields = fields_from_matrix(room_id, original_id, sender, final, origin_server_ts)
        except Exception:
            log.exception("could not read MindRoom usage from %s in %s", event_id, room_id)
            return
        if fields is not None:  # a value no event may hold is refused by the writer and kept in rejected_events
            self.tracker.record(**fields)

    async def _original_sender(self, room_id: str, event_id: str) -> str | None:
        known = self._senders.get(event_id)
        if known is None and self.sender_of is not None:
            known = await self.sender_of(room_id, event_id)
            if known is not None:
                self._note(self._senders, event_id, known)
        return known
