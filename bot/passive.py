"""Passive collection of MindRoom usage from agent messages (`ingest.mindroom: true`).

MindRoom streams a reply by editing it; each original event is counted once, with its final
usage. The Matrix event id of the original is the idempotency key, so history read again after
a restart is not counted twice. A message still streaming is skipped: its final edit follows.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tracking import Tracker

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


class PassiveCollector:
    """Records MindRoom usage seen in rooms through a Tracker of its own (the bot's writer)."""

    def __init__(self, storage_url: str, agent_prefix: str = "mindroom_", remember_threads: int = 10_000) -> None:
        self.tracker = Tracker(storage_url)
        self.agent_prefix = agent_prefix
        self._threads: dict[str, str] = {}
        self._remember = remember_threads

    async def start(self) -> None:
        await asyncio.to_thread(self.tracker.start)

    async def close(self) -> None:
        await self.tracker.aclose()

    def observe(self, room_id: str, event_id: str, sender: str, content: dict[str, Any], origin_server_ts: int) -> None:
        relation = content.get("m.relates_to") or {}
        if relation.get("rel_type") == "m.thread" and isinstance(relation.get("event_id"), str):
            self._threads[event_id] = relation["event_id"]
            if len(self._threads) > self._remember:
                self._threads.pop(next(iter(self._threads)))
        if "io.mindroom.ai_run" not in content and "io.mindroom.ai_run" not in (content.get("m.new_content") or {}):
            return
        if not sender.removeprefix("@").startswith(self.agent_prefix):
            log.warning("ignoring MindRoom usage from %s in %s: not a MindRoom agent account", sender, room_id)
            return
        found = final_content(event_id, content, self._threads)
        if found is None:
            return
        original_id, final = found
        from tracking.hooks.mindroom import event_from_matrix

        try:
            event = event_from_matrix(room_id, original_id, sender, final, origin_server_ts)
        except Exception:
            log.exception("could not read MindRoom usage from %s in %s", event_id, room_id)
            return
        if event is None:
            return
        self.tracker.record(**event.model_dump(exclude={"cost_usd"}))
