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
    return state_dir() / f"{name}.postgresql"


def state_dir(name: str = "matrix-usage-bot") -> Path:
    """Our folder in the user's state directory (`$XDG_STATE_HOME`, else ~/.local/state): the spill files of
    PostgreSQL trackers and the HTTP trackers' spools. ``name`` is for the folder of earlier versions."""
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / name


class SpillFile:
    """Where a tracker's unwritten events go: beside the database, else in the temp directory."""

    def __init__(self, url: str, fixed: Path | None = None) -> None:
        """``fixed`` (the HTTP tracker's spool) is the first place tried, always, before the temp directory."""
        self.base = fixed if fixed is not None else spill_base(url)
        self.fixed = fixed
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
            places = [path for path in (self.fixed, self.path) if path is not None]
            places += [base.with_name(name), Path(tempfile.gettempdir()) / name]
            for path in dict.fromkeys(places):
                if self._append(path, lines):
                    self.path = path
                    return path
            self.lost += len(lines)
        log.critical("%d usage events could not be saved to any file (tried %s); they follow, one per line",
                     len(lines), ", ".join(str(p) for p in places))  # fmt: skip
        for line in lines:
            log.critical("unsaved usage event: %s", line.rstrip())
        return None

    def _append(self, path: Path, lines: list[str]) -> bool:
        return append_whole(path, lines)


def private_dir(path: Path) -> None:
    """Create the directory, and any parent missing, private to this user (0700, as the XDG spec asks)."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)


def open_private(path: Path, flags: int) -> int:
    """A file descriptor of ``path``, created private to this user (0600); an existing file that others
    can read is made private too (when it is this user's)."""
    private_dir(path.parent)
    fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, 0o600)
    if os.fstat(fd).st_mode & 0o077:
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o600)
    return fd


def append_whole(path: Path, lines: list[str]) -> bool:
    """Append every line or none, fsynced: on failure the file is cut back to its size before. A line left
    torn by a process killed while writing stays on a line of its own."""
    try:
        fd = open_private(path, os.O_RDWR | os.O_APPEND)
    except OSError as exc:
        log.error("could not save usage events to %s: %s", path, exc)
        return False
    try:
        start = os.fstat(fd).st_size
        data = "".join(lines).encode("utf-8")
        if start and os.pread(fd, 1, start - 1) != b"\n":
            data = b"\n" + data
        try:
            write_all(fd, data)
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise
        return True
    except OSError as exc:
        log.error("could not save usage events to %s: %s", path, exc)
        with contextlib.suppress(OSError):
            if os.fstat(fd).st_size == 0:
                path.unlink()
        return False
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _ingestable(recorded: Recorded, now: float) -> dict[str, Any]:
    from datetime import UTC, datetime

    data = {k: v for k, v in recorded._asdict().items() if v is not None and k != "reservation"}
    ts = recorded.ts if recorded.ts is not None else now
    try:
        data["ts"] = (ts if isinstance(ts, datetime) else datetime.fromtimestamp(ts, UTC)).isoformat()
    except (TypeError, ValueError, OverflowError, OSError):  # saved as given: ingest refuses it with the reason
        data["ts"] = ts
    return data
