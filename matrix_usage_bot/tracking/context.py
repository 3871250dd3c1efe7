"""Attribution context: who and where an LLM call belongs to, carried by contextvars.

`attribute(...)` nests (inner values override outer ones) and follows asyncio tasks,
because tasks copy the context they are created in.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, TypedDict, Unpack

from .events import ATTRIBUTION_FIELDS

_EMPTY: MappingProxyType[str, Any] = MappingProxyType({})
_current: ContextVar[MappingProxyType[str, Any]] = ContextVar("tracking_attribution", default=_EMPTY)


class Attribution(TypedDict, total=False):
    """Who and where a call belongs to: the attribution fields of an event (`tracking.fields.ATTRIBUTION`)."""

    room_id: str | None
    thread_id: str | None
    agent: str | None
    user_id: str | None
    session_id: str | None
    operation: str | None


@contextmanager
def attribute(**given: Unpack[Attribution]) -> Iterator[MappingProxyType[str, Any]]:
    """Attribute every call recorded inside the block; arguments left as None inherit the outer value."""
    unknown = sorted(set(given) - set(ATTRIBUTION_FIELDS))
    if unknown:
        raise TypeError(f"attribute() got unexpected keyword arguments: {', '.join(unknown)}")
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


__all__ = ["ATTRIBUTION_FIELDS", "Attribution", "attribute", "current_attribution"]
