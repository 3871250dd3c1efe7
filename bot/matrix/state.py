"""The bot's own small persistent state, next to nio's E2EE store under ``store_path``.

- handled command event ids, so a command is never answered twice (restarts included);
  bounded: only the newest ``max_handled`` ids are kept, which is plenty since commands
  older than the grace window are ignored anyway;
- when the bot joined each room, so history from before the join is never answered;
- room upgrades seen (tombstones), so ``on_room_upgraded`` runs once per upgrade even
  when the bot can only join the new room later, on an invite.

Plain ``sqlite3``: every operation is one tiny indexed statement on a local file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS handled_events (event_id TEXT PRIMARY KEY, room_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS room_joins (room_id TEXT PRIMARY KEY, joined_ts INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS room_upgrades (
    old_room_id TEXT PRIMARY KEY, new_room_id TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0
);
"""


class BotStateStore:
    FILENAME = "usage_bot_state.sqlite3"

    def __init__(self, store_path: Path, max_handled: int = 20_000) -> None:
        store_path.mkdir(parents=True, exist_ok=True)
        self.path = store_path / self.FILENAME
        self.max_handled = max_handled
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._inserts = 0

    def close(self) -> None:
        self._db.close()

    def claim(self, event_id: str, room_id: str) -> bool:
        """Mark a command as handled; False if it already was (then it must not be answered)."""
        cur = self._db.execute(
            "INSERT OR IGNORE INTO handled_events (event_id, room_id) VALUES (?, ?)", (event_id, room_id)
        )
        if cur.rowcount != 1:
            return False
        self._inserts += 1
        if self._inserts % 500 == 0:
            self._prune()
        return True

    def is_handled(self, event_id: str) -> bool:
        row = self._db.execute("SELECT 1 FROM handled_events WHERE event_id = ?", (event_id,)).fetchone()
        return row is not None

    def _prune(self) -> None:
        self._db.execute(
            "DELETE FROM handled_events WHERE rowid <= (SELECT MAX(rowid) FROM handled_events) - ?",
            (self.max_handled,),
        )

    def record_join(self, room_id: str, joined_ts: int) -> None:
        """Remember the newest join of the bot to ``room_id`` (origin_server_ts, ms)."""
        self._db.execute(
            "INSERT INTO room_joins (room_id, joined_ts) VALUES (?, ?) "
            "ON CONFLICT (room_id) DO UPDATE SET joined_ts = MAX(joined_ts, excluded.joined_ts)",
            (room_id, joined_ts),
        )

    def joined_ts(self, room_id: str) -> int | None:
        row = self._db.execute("SELECT joined_ts FROM room_joins WHERE room_id = ?", (room_id,)).fetchone()
        return None if row is None else int(row[0])

    def note_upgrade(self, old_room_id: str, new_room_id: str) -> None:
        self._db.execute(
            "INSERT INTO room_upgrades (old_room_id, new_room_id) VALUES (?, ?) ON CONFLICT (old_room_id)"
            " DO UPDATE SET new_room_id = excluded.new_room_id WHERE done = 0",
            (old_room_id, new_room_id),
        )

    def pending_upgrades_to(self, new_room_id: str) -> list[str]:
        """Old rooms upgraded to ``new_room_id`` whose hook has not run yet."""
        rows = self._db.execute(
            "SELECT old_room_id FROM room_upgrades WHERE new_room_id = ? AND done = 0", (new_room_id,)
        ).fetchall()
        return [str(r[0]) for r in rows]

    def finish_upgrade(self, old_room_id: str) -> bool:
        """Mark the hook for ``old_room_id`` as run; False if it already was."""
        cur = self._db.execute("UPDATE room_upgrades SET done = 1 WHERE old_room_id = ? AND done = 0", (old_room_id,))
        return cur.rowcount == 1

    def drop_upgrade(self, old_room_id: str, new_room_id: str) -> None:
        """Forget a tombstone whose new room does not name the old one as predecessor."""
        self._db.execute(
            "DELETE FROM room_upgrades WHERE old_room_id = ? AND new_room_id = ? AND done = 0",
            (old_room_id, new_room_id),
        )

    def predecessors(self, room_id: str) -> list[str]:
        """Every room that was upgraded, directly or through others, into ``room_id``.

        Only verified upgrades count (``done``): a tombstone alone links no rooms.
        """
        found: list[str] = []
        frontier = [room_id]
        while frontier:
            rows = self._db.execute(
                "SELECT old_room_id FROM room_upgrades WHERE done = 1"
                f" AND new_room_id IN ({','.join('?' * len(frontier))})",
                frontier,
            ).fetchall()
            frontier = [str(r[0]) for r in rows if str(r[0]) not in found and str(r[0]) != room_id]
            found.extend(frontier)
        return found
