"""The last resort for usage events the store cannot take: JSON lines for `usage-bot ingest`, never lost.

Each line carries the event's own `event_id`, so a file ingested twice counts every event once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .rows import Recorded
from .store import is_postgres, sqlite_path

log = logging.getLogger(__name__)


def spill_base(url: str) -> Path:
    """The file the spill file is named after: a SQLite database itself; for PostgreSQL (no file of
    ours on this host) a name of the host and database in the user's state directory."""
    if not is_postgres(url):
        return Path(sqlite_path(url)).expanduser()
    parts = urlsplit(url)
    name = f"{parts.hostname or 'local'}-{parts.path.strip('/') or 'postgres'}".replace(os.sep, "_")
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "matrix-usage-bot" / f"{name}.postgresql"


class SpillFile:
    """Where a tracker's unwritten events go: beside the database, else in the temp directory."""

    def __init__(self, url: str, fixed: Path | None = None) -> None:
        """``fixed`` (the HTTP tracker's spool) is the first place tried, before the temp directory."""
        self.base = fixed if fixed is not None else spill_base(url)
        self.path: Path | None = fixed
        self.lost = 0
        """Events that could be neither stored nor saved to any file (each is in the log as JSON)."""
        self._lock = threading.Lock()

    def save(self, events: list[Recorded]) -> Path | None:
        """Append events as JSON lines beside the database, else in the temp directory; the path used.

        A file that cannot be written whole (a full disk) is cut back to the lines written before, so
        it never holds half a line; if no place takes them, each event is logged as JSON and counted
        in ``lost``, and None is returned.
        """
        if not events:
            return self.path
        now = time.time()
        return self.save_lines([json.dumps(_ingestable(recorded, now), default=str) + "\n" for recorded in events])

    def save_lines(self, lines: list[str]) -> Path | None:
        """Append JSON lines (each ending in a newline) as ``save`` does."""
        now = time.time()
        base = self.base
        name = f"{base.name}.unwritten-{int(now)}.jsonl"
        with self._lock:
            places = [self.path] if self.path is not None else []
            places += [base.with_name(name), Path(tempfile.gettempdir()) / name]
            for path in places:
                if _append_whole(path, lines):
                    self.path = path
                    return path
            self.lost += len(lines)
        log.critical("%d usage events could not be saved to any file (tried %s); they follow, one per line",
                     len(lines), ", ".join(str(p) for p in places))  # fmt: skip
        for line in lines:
            log.critical("unsaved usage event: %s", line.rstrip())
        return None


def _append_whole(path: Path, lines: list[str]) -> bool:
    """Append every line or none: on failure the file is cut back to its size before."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            start = out.tell()
            try:
                out.write("".join(lines))
                out.flush()
                os.fsync(out.fileno())
            except OSError:
                with contextlib.suppress(OSError):
                    out.truncate(start)
                raise
        return True
    except OSError as exc:
        log.error("could not save usage events to %s: %s", path, exc)
        with contextlib.suppress(OSError):
            if path.exists() and path.stat().st_size == 0:
                path.unlink()
        return False


def _ingestable(recorded: Recorded, now: float) -> dict[str, Any]:
    from datetime import UTC, datetime

    data = {k: v for k, v in recorded._asdict().items() if v is not None and k != "reservation"}
    ts = recorded.ts if recorded.ts is not None else now
    try:
        data["ts"] = (ts if isinstance(ts, datetime) else datetime.fromtimestamp(ts, UTC)).isoformat()
    except (TypeError, ValueError, OverflowError, OSError):  # saved as given: ingest refuses it with the reason
        data["ts"] = ts
    return data
