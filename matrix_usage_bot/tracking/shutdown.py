"""Trackers drain at exit and on SIGTERM, then the process does what the signal would have done."""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import weakref
from types import FrameType
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Closable(Protocol):
    def close(self) -> None: ...


_live: weakref.WeakSet[Closable] = weakref.WeakSet()
_previous_sigterm: Any = None
_hooks_installed = False
_hooks_lock = threading.Lock()


def register(tracker: Closable) -> None:
    """Drain ``tracker`` at exit and on SIGTERM (the handler is installed once, from the main thread)."""
    global _hooks_installed, _previous_sigterm
    _live.add(tracker)
    with _hooks_lock:
        if _hooks_installed:
            return
        _hooks_installed = True
        atexit.register(_close_all)
        if threading.current_thread() is threading.main_thread():
            _previous_sigterm = signal.signal(signal.SIGTERM, _on_sigterm)


def unregister(tracker: Closable) -> None:
    _live.discard(tracker)


def _close_all() -> None:
    for tracker in list(_live):
        try:
            tracker.close()
        except Exception:
            log.exception("draining a tracker at exit failed")


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Drain every open tracker, then do what SIGTERM would have done without us."""
    _close_all()
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_IGN:
        return
    else:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
