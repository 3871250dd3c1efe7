"""Trackers drain at exit and on SIGTERM, then the process does what the signal would have done.

SIGTERM that arrives while the main thread is already closing a tracker waits for that close to end: a
handler that closed the trackers itself would join the writer from inside the interrupted join, and the
outer join can hold the very lock the inner one waits for (a deadlock seen under load).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Closable(Protocol):
    def close(self) -> None: ...


_live: weakref.WeakSet[Closable] = weakref.WeakSet()
_previous_sigterm: Any = None
_hooks_installed = False
_hooks_lock = threading.Lock()
_closes_on_main_thread = 0
_deferred_sigterm: tuple[int, FrameType | None] | None = None


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


@contextmanager
def closing() -> Iterator[None]:
    """Wrap a tracker's close(): SIGTERM arriving on the main thread meanwhile is handled once it ends."""
    global _closes_on_main_thread, _deferred_sigterm
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _closes_on_main_thread += 1
    try:
        yield
    finally:
        _closes_on_main_thread -= 1
        if _closes_on_main_thread == 0 and _deferred_sigterm is not None:
            signum, frame = _deferred_sigterm
            _deferred_sigterm = None
            _on_sigterm(signum, frame)


def _close_all() -> None:
    for tracker in list(_live):
        try:
            tracker.close()
        except Exception:
            log.exception("draining a tracker at exit failed")


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Drain every open tracker, then do what SIGTERM would have done without us."""
    global _deferred_sigterm
    if _closes_on_main_thread:
        _deferred_sigterm = (signum, frame)
        return
    _close_all()
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_IGN:
        return
    else:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
