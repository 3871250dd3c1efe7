"""Attribution context: who and where an LLM call belongs to, carried by contextvars.

`attribute(...)` nests (inner values override outer ones) and follows asyncio tasks,
because tasks copy the context they are created in.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

from .events import ATTRIBUTION_FIELDS

_EMPTY: MappingProxyType[str, Any] = MappingProxyType({})
_current: ContextVar[MappingProxyType[str, Any]] = ContextVar("tracking_attribution", default=_EMPTY)


@contextmanager
def attribute(
    *,
    room_id: str | None = None,
    thread_id: str | None = None,
    agent: str | None = None,
    user_id: str | None = None,
    session_id: str | None = None,
    operation: str | None = None,
) -> Iterator[MappingProxyType[str, Any]]:
    """Attribute every call recorded inside the block; arguments left as None inherit the outer value."""
    given = {
        "room_id": room_id,
        "thread_id": thread_id,
        "agent": agent,
        "user_id": user_id,
        "session_id": session_id,
        "operation": operation,
    }
    merged = dict(_current.get())
    merged.update({key: value for key, value in given.items() if value is not None})
    token = _current.set(MappingProxyType(merged))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def current_attribution() -> MappingProxyType[str, Any]:
    """The attribution in force here (read-only)."""
    return _current.get()


__all__ = ["ATTRIBUTION_FIELDS", "attribute", "current_attribution"]
