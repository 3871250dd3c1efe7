"""Calls queued before their usage is read: what hooks queue with `Tracker.record_later()`.

A hook's work inside the caller's LLM call is what users pay for, and reading an SDK's usage object
there (cold caches, right after the request) cost most of it. So a hook queues the call's result as it
is, with the call's time and attribution, and the writer turns it into a `Recorded` before anything
else sees it: before it is priced, stored, saved to a spill file or sent to a collector.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from .fields import ATTRIBUTION
from .rows import Recorded
from .validation import new_event_id

log = logging.getLogger(__name__)


class Later(NamedTuple):
    """What `Tracker.record_later()` queues: a call whose usage the writer reads, off the caller's thread.

    `ts` and `context` (the attribution in force) are the call's, taken when it was queued; `fields(*args)`
    returns `record()`'s keywords and runs on the writer's thread.
    """

    ts: float | datetime
    context: Mapping[str, Any] | None
    fields: Callable[..., dict[str, Any]]
    args: tuple[Any, ...]


_BLANK: dict[str, Any] = {"provider": None, "model": None}
"""The fields without a default: a call without them is refused by the validation, with the reason."""


def resolve(later: Later) -> Recorded:
    """The queued call as `record()` would have queued it: attribution given by `fields` wins over the
    context's, as in `record()`; its `event_id` is given here, before the event can be stored, saved or sent."""
    fields = later.fields(*later.args)
    context = later.context
    if context:
        for name in ATTRIBUTION:
            if not fields.get(name) and context.get(name):
                fields[name] = context[name]
    return Recorded(ts=later.ts, event_id=new_event_id(), **{**_BLANK, **fields})


def queued_calls(items: Iterable[object]) -> list[Recorded]:
    """The calls among queued items, as `record()` queues them; one whose usage cannot be read is logged."""
    calls = []
    for item in items:
        if type(item) is Later:
            try:
                item = resolve(item)
            except Exception:
                log.exception("unsaved usage event: its usage could not be read: %s",
                              json.dumps(item._asdict(), default=str))  # fmt: skip
                continue
        if type(item) is Recorded:
            calls.append(item)
    return calls


__all__ = ["Later", "queued_calls", "resolve"]
