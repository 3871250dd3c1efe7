"""What the bot remembers between restarts, in one place, kept in the usage store's bookkeeping.

- the commands it answered, so none is answered twice (restarts and a second process included);
- when it joined each room, so history from before the join is never answered;
- room upgrades: noted from tombstones, verified from the new room's create event, then linked;
- each room's digest setting and the digests posted; the quota and spike warnings sent.

Joins and upgrades are read on every synced event, so they are also held in memory; every change is
written to the store first. The Matrix sync token and E2EE keys stay with the client (nio's store).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from matrix_usage_bot.tracking.store import Store

log = logging.getLogger(__name__)

COMMAND, UPGRADE, DIGEST, WARNING, SPIKE = "command", "upgrade", "digest", "warning", "spike"
JOINED, UPGRADED_TO, DIGEST_ENABLED, DIGEST_AT = "joined_ms", "upgraded_to", "digest.enabled", "digest.at"
LEGACY_FILENAME = "usage_bot_state.sqlite3"


@dataclass(frozen=True)
class DigestSetting:
    enabled: bool
    at: str


class BotState:
    """Open with `await BotState.load(store)`."""

    def __init__(self, store: Store, *, keep_commands_ms: int = 7 * 24 * 3_600_000) -> None:
        self.store = store
        self.keep_commands_ms = keep_commands_ms
        self._joined: dict[str, int] = {}
        self._upgraded_to: dict[str, str] = {}
        self._upgrades_done: set[str] = set()
        self._claims_since_prune = 0

    @classmethod
    async def load(cls, store: Store, **options: int) -> BotState:
        state = cls(store, **options)
        state._joined = {room: int(ms) for room, ms in (await store.room_values(JOINED)).items()}
        state._upgraded_to = await store.room_values(UPGRADED_TO)
        state._upgrades_done = set(await store.claimed(UPGRADE))
        return state

    # -- commands ------------------------------------------------------------------------

    async def claim_command(self, event_id: str, room_id: str) -> bool:
        """Mark a command as answered; False if it already was (then it must not be answered).

        Claims older than `keep_commands_ms` are dropped now and then: such commands are past
        the grace window and would not be answered anyway.
        """
        if not await self.store.claim(COMMAND, event_id, room_id):
            return False
        self._claims_since_prune += 1
        if self._claims_since_prune >= 500:
            self._claims_since_prune = 0
            await self.store.forget_claims(COMMAND, int(time.time() * 1000) - self.keep_commands_ms)
        return True

    # -- joins ---------------------------------------------------------------------------

    def joined_ts(self, room_id: str) -> int | None:
        return self._joined.get(room_id)

    async def record_join(self, room_id: str, joined_ts: int) -> None:
        """Remember the newest join of the bot to `room_id` (origin_server_ts, ms)."""
        if joined_ts > self._joined.get(room_id, -1):
            await self.store.set_room_value(room_id, JOINED, str(joined_ts))
            self._joined[room_id] = joined_ts

    async def record_leave(self, room_id: str, left_ts: int) -> None:
        """Forget the join when the bot left (or was removed) after it: its next join is a new one.

        Until the next join is known, the join time is asked of the homeserver, so commands sent
        while the bot was away are never answered when it comes back.
        """
        known = self._joined.get(room_id)
        if known is not None and left_ts > known:
            await self.store.set_room_value(room_id, JOINED, None)
            del self._joined[room_id]

    # -- upgrades ------------------------------------------------------------------------

    async def note_upgrade(self, old_room_id: str, new_room_id: str) -> None:
        if old_room_id in self._upgrades_done:
            return
        await self.store.set_room_value(old_room_id, UPGRADED_TO, new_room_id)
        self._upgraded_to[old_room_id] = new_room_id

    def pending_upgrades_to(self, new_room_id: str) -> list[str]:
        """Old rooms upgraded to `new_room_id` whose upgrade is not verified yet."""
        return sorted(
            old for old, new in self._upgraded_to.items() if new == new_room_id and old not in self._upgrades_done
        )

    async def finish_upgrade(self, old_room_id: str) -> bool:
        """Mark the upgrade of `old_room_id` as verified; False if it already was."""
        if not await self.store.claim(UPGRADE, old_room_id, old_room_id):
            self._upgrades_done.add(old_room_id)
            return False
        self._upgrades_done.add(old_room_id)
        return True

    async def drop_upgrade(self, old_room_id: str, new_room_id: str) -> None:
        """Forget a tombstone whose new room does not name the old one as predecessor."""
        if self._upgraded_to.get(old_room_id) == new_room_id and old_room_id not in self._upgrades_done:
            await self.store.set_room_value(old_room_id, UPGRADED_TO, None)
            del self._upgraded_to[old_room_id]

    def predecessors(self, room_id: str) -> list[str]:
        """Every room upgraded, directly or through others, into `room_id`; verified upgrades only."""
        found: list[str] = []
        frontier = {room_id}
        while frontier:
            step = sorted(
                old for old, new in self._upgraded_to.items()
                if new in frontier and old in self._upgrades_done and old not in found and old != room_id
            )  # fmt: skip
            found.extend(step)
            frontier = set(step)
        return found

    # -- digests and warnings ------------------------------------------------------------

    async def digest_settings(self) -> dict[str, DigestSetting]:
        enabled = await self.store.room_values(DIGEST_ENABLED)
        at = await self.store.room_values(DIGEST_AT)
        return {room: DigestSetting(flag == "1", at.get(room, "")) for room, flag in enabled.items() if room in at}

    async def set_digest(self, room_id: str, enabled: bool, at: str) -> None:
        await self.store.set_room_value(room_id, DIGEST_AT, at)
        await self.store.set_room_value(room_id, DIGEST_ENABLED, "1" if enabled else "0")

    async def claim_digest(self, room_id: str, day: str) -> bool:
        """Mark the digest of `day` as posted in the room; False if it already was."""
        return await self.store.claim(DIGEST, f"{room_id}|{day}", room_id)

    async def release_digest(self, room_id: str, day: str) -> None:
        """Undo `claim_digest` for a digest the homeserver did not accept."""
        await self.store.release(DIGEST, f"{room_id}|{day}")

    async def claim_warning(self, quota_key: str, period_start: str, threshold: int, room_id: str) -> bool:
        """Mark a warning as sent; False if it was sent before (restarts included)."""
        return await self.store.claim(WARNING, f"{quota_key}|{period_start}|{threshold}", room_id)

    async def release_warning(self, quota_key: str, period_start: str, threshold: int) -> None:
        """Undo `claim_warning` for a warning the homeserver did not accept."""
        await self.store.release(WARNING, f"{quota_key}|{period_start}|{threshold}")

    async def claim_spike(self, key: str, room_id: str) -> bool:
        """Mark the spike warning of a room's hour as sent; False if it was."""
        return await self.store.claim(SPIKE, key, room_id)

    async def release_spike(self, key: str) -> None:
        await self.store.release(SPIKE, key)

    async def inherit(self, old_room_id: str, new_room_id: str) -> None:
        """A room upgrade: the new room takes the old one's quotas and digest setting where it has none,
        and the digests already posted in the old room count as posted in the new one."""
        await self.store.copy_room_quotas(old_room_id, new_room_id)
        settings = await self.digest_settings()
        if new_room_id not in settings and old_room_id in settings:
            old = settings[old_room_id]
            await self.set_digest(new_room_id, old.enabled, old.at)
        for key in await self.store.claimed(DIGEST, old_room_id):
            await self.store.claim(DIGEST, f"{new_room_id}|{key.rsplit('|', 1)[1]}", new_room_id)

    # -- the file older versions kept next to the E2EE store -------------------------------

    async def import_legacy(self, store_path: Path) -> None:
        """Take over the state that older versions kept in their own file under `store_path`, once."""
        path = store_path / LEGACY_FILENAME
        if not path.is_file():
            return
        try:
            await self._import_file(path)
        except sqlite3.Error as exc:
            log.warning("could not read the old bot state in %s (%s); starting without it", path, exc)
            return
        path.rename(path.with_name(LEGACY_FILENAME + ".imported"))
        log.info("took over the bot state kept in %s", path)

    async def _import_file(self, path: Path) -> None:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            for event_id, room_id in db.execute("SELECT event_id, room_id FROM handled_events"):
                await self.store.claim(COMMAND, event_id, room_id)
            for room_id, ts in db.execute("SELECT room_id, joined_ts FROM room_joins"):
                await self.record_join(room_id, int(ts))
            for old, new, done in db.execute("SELECT old_room_id, new_room_id, done FROM room_upgrades"):
                await self.note_upgrade(old, new)
                if done:
                    await self.finish_upgrade(old)
        finally:
            db.close()
