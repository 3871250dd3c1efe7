"""The HTTP tracker's spool: batches wait here while the collector is away, shared safely by every tracker
process on the host that sends to one collector (README: HTTP API).

- `SPOOL` takes whole batches, appended and fsynced under an exclusive `flock` of `SPOOL.lock`.
- One sender at a time, in any process, holds the `flock` of `SPOOL.send.lock`. It sends `SPOOL.sending`:
  the file an earlier sender left, else `SPOOL` itself, renamed under the append lock (so no append is
  cut, and later ones start a new `SPOOL`). The file is deleted only once the collector took all of it;
  when the collector goes away midway, what it did not take is written back first. A sender that dies
  leaves `SPOOL.sending` behind and its lock dies with it: the next sender sends the file again, and the
  collector counts each `event_id` once.
- `SPOOL.rejected.jsonl`: events the collector refused for themselves, one JSON object a line:
  `{"rejected": reason, "at": time, "event": event}`.

Every file is created private to its user (0600), its directory 0700 when created here.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from .spill import SpillFile, append_whole, open_private, write_all


@contextlib.contextmanager
def locked(path: Path, wait: bool = True) -> Iterator[bool]:
    """Hold an exclusive `flock` of ``path`` (created 0600); without ``wait``, False when another holds it.
    Two opens of one file conflict even in one process, so threads and tasks take turns too."""
    fd = open_private(path, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = True
        except BlockingIOError:
            held = False
        yield held
    finally:
        os.close(fd)  # releases the lock


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _whole_lines(lines: Iterable[str]) -> list[str]:
    """The lines that hold something, each ending in a newline (a torn last line gets one)."""
    return [line if line.endswith("\n") else line + "\n" for line in lines if line.strip()]


def _has_lines(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


class Spool(SpillFile):
    """The spool file and its companions; the writer's last-resort saves go to the spool first too."""

    def __init__(self, path: Path, former: Path | None = None) -> None:
        """``former``: the spool of an earlier version's folder, whose events are sent with these."""
        super().__init__("", fixed=path)
        self.file = path
        self.former = former
        self.sending = _sibling(path, ".sending")
        self.rejected = _sibling(path, ".rejected.jsonl")
        self._append_lock = _sibling(path, ".lock")
        self._send_lock = _sibling(path, ".send.lock")

    def _append(self, path: Path, lines: list[str]) -> bool:
        if path != self.file:
            return super()._append(path, lines)
        with locked(self._append_lock):
            return append_whole(path, lines)

    def waiting(self) -> bool:
        """Whether events wait to be sent (by this process or another)."""
        return _has_lines(self.file) or self.sending.exists() or bool(self._former_files())

    def _former_files(self) -> list[Path]:
        if self.former is None:
            return []
        return [f for f in (self.former, _sibling(self.former, ".sending")) if _has_lines(f)]

    def set_aside(self, line: str, reason: str) -> None:
        """Keep an event the collector refused for itself, with the reason, in the rejected file."""
        entry = {"rejected": reason, "at": datetime.now(UTC).isoformat(), "event": json.loads(line)}
        with locked(self._append_lock):
            kept = append_whole(self.rejected, [json.dumps(entry, separators=(",", ":")) + "\n"])
        if not kept:
            self.save_lines([line])  # cannot be kept apart: better sent again than lost

    @contextlib.contextmanager
    def sender(self) -> Iterator[Sender | None]:
        """This process as the spool's one sender while the block runs; None if another sender is at work."""
        with locked(self._send_lock, wait=False) as mine:
            yield Sender(self) if mine else None


class Sender:
    """What the holder of the send lock may do."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool

    def take(self) -> list[str] | None:
        """The lines to send next: those of `SPOOL.sending`, which becomes `SPOOL` first when there is none;
        None when nothing waits."""
        spool = self.spool
        if not spool.sending.exists():
            with locked(spool._append_lock):
                self._adopt_legacy()
                if not _has_lines(spool.file):
                    return None
                os.replace(spool.file, spool.sending)
        with spool.sending.open(encoding="utf-8") as lines:
            return _whole_lines(lines)

    def done(self) -> None:
        """The collector took everything taken."""
        with contextlib.suppress(FileNotFoundError):
            self.spool.sending.unlink()

    def keep(self, lines: list[str]) -> None:
        """The collector went away: only ``lines`` (what it did not take) stay to be sent."""
        if not lines:
            return self.done()
        partial = _sibling(self.spool.sending, ".partial")
        fd = open_private(partial, os.O_WRONLY | os.O_TRUNC)
        try:
            write_all(fd, "".join(lines).encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(partial, self.spool.sending)

    def _adopt_legacy(self) -> None:
        """Files `SPOOL.sending-PID` of trackers before this scheme, and the spool of the former folder (under
        its own append lock, which trackers of that version take), go back into `SPOOL` (under the append lock)."""
        spool = self.spool
        for legacy in spool.file.parent.glob(f"{spool.file.name}.sending-*"):
            self._adopt(legacy)
        if spool.former is not None and spool._former_files():
            with locked(_sibling(spool.former, ".lock")):
                for former in spool._former_files():
                    self._adopt(former)

    def _adopt(self, legacy: Path) -> None:
        with legacy.open(encoding="utf-8") as text:
            lines = _whole_lines(text)
        if not lines or append_whole(self.spool.file, lines):
            legacy.unlink()
