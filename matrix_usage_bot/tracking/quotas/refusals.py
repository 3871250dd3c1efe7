"""Hard-quota refusals, noted in the store where they happen (agent processes), so the bot or the HTTP
server, whichever runs the notifier, can send them to webhooks and PostHog once (README: HTTP API)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from ..store import Store
from .model import QuotaExceeded

log = logging.getLogger(__name__)

REFUSALS = "quota_refusal"
"""The claim kind: one claim per refusal noted, its key the refusal as JSON."""
_noted: set[str] = set()
"""The refusals this process noted already: an agent refused again and again notes its quota's once."""


def refusal_payload(exc: QuotaExceeded) -> dict[str, Any]:
    status, quota = exc.status, exc.quota
    return {
        "id": f"quota_refused|{quota.key(status.room_id)}|{status.period.start.isoformat()}",
        "ts": datetime.now(UTC).isoformat(),
        "room_id": status.room_id,
        "quota": {"scope": quota.scope, "name": quota.name or None, "window": quota.window,
                  "unit": quota.amount.unit, "everywhere": quota.counts_everywhere, "description": quota.describe()},
        "used": f"{exc.used:f}",  # plain decimal text: a normalized Decimal would print 1.5E+3
        "limit": f"{exc.limit:f}",
        "needed": None if exc.needed is None else f"{exc.needed:f}",
        "resets": exc.resets.isoformat(),
        "message": str(exc),
    }  # fmt: skip


async def note_refusal(store: Store, exc: QuotaExceeded) -> None:
    """Keep the refusal for the notifier, once per quota and window (its `id`: the relay sends each id
once, across processes); never in the way of the refusal itself."""
    payload = refusal_payload(exc)
    if payload["id"] in _noted:
        return
    _noted.add(payload["id"])
    if len(_noted) > 10_000:
        _noted.clear()
    try:
        await store.claim(REFUSALS, json.dumps(payload, sort_keys=True), payload["room_id"])
    except Exception:
        log.exception("could not note a hard-quota refusal for the notifier")
