"""Which quotas hold where: config defaults, plans, quotas set in rooms, and quotas counted everywhere.

For a room, later sources replace earlier ones of the same identity (scope, name, window, unit):
config defaults, then the room's plan, then what room admins set there (a cleared one removes it).
Everywhere: `quotas.everywhere` and global defaults, then the user's plan, then what bot admins set.
A user's plan contributes its user quotas, counted for that user across all rooms.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from decimal import Decimal

from ..amounts import checked_amount, parse_amount
from ..settings import QuotaSettings, QuotaSpec
from ..store import QuotaRow
from .model import Quota, Source

log = logging.getLogger(__name__)

PLAN_VALUE = "quota.plan"
"""The store's per-room value naming the plan a bot admin put the room on."""


def spec_quota(spec: QuotaSpec, source: Source, *, everywhere: bool = False, plan: str | None = None) -> Quota:
    return Quota(
        spec.scope, spec.window, parse_amount(spec.limit), spec.name or "", spec.hard, source,
        everywhere or spec.scope == "global", plan,
    )  # fmt: skip


def row_quota(row: QuotaRow, everywhere: bool) -> Quota | None:
    """The quota a stored row sets; None (logged) for a row with no usable amount."""
    try:
        amount = checked_amount(row.unit, Decimal(row.limit_value))
    except (ValueError, ArithmeticError) as err:  # written by an older version: skip it, keep the rest
        log.warning("ignoring the %s %s quota of %s: %r is no usable amount (%s)",
                    row.window, row.scope, row.place, row.limit_value, err)  # fmt: skip
        return None
    source: Source = "everywhere" if everywhere else "room"
    return Quota(row.scope, row.window, amount, row.name, row.hard, source, everywhere)  # type: ignore[arg-type]


def layered(*layers: Iterable[Quota], rows: Sequence[QuotaRow] = (), everywhere: bool = False) -> list[Quota]:
    """The quotas of the layers, each replacing the ones before with the same identity, then the rows."""
    by_identity: dict[tuple, Quota | None] = {}
    for layer in layers:
        for quota in layer:
            by_identity[quota.identity] = quota
    for row in rows:
        identity = (row.scope, row.name, everywhere or row.scope == "global", row.window, row.unit)
        if row.disabled:
            by_identity[identity] = None
        elif (quota := row_quota(row, everywhere)) is not None:
            by_identity[identity] = quota
    return [q for q in by_identity.values() if q is not None]


class QuotaRules:
    def __init__(self, settings: QuotaSettings) -> None:
        self.settings = settings
        self.defaults = [spec_quota(s, "config") for s in settings.defaults if s.scope != "global"]
        self.everywhere = [spec_quota(s, "config", everywhere=True) for s in settings.everywhere] + [
            spec_quota(s, "config") for s in settings.defaults if s.scope == "global"
        ]

    def plan_of_room(self, room_id: str, chosen: str | None) -> str | None:
        """The room's plan: the one a bot admin chose, else the config's; an unknown name counts as none."""
        plan = chosen or self.settings.room_plans.get(room_id)
        return plan if plan in self.settings.plans else None

    def in_room(self, plan: str | None, rows: Sequence[QuotaRow]) -> list[Quota]:
        planned = [spec_quota(s, "plan", plan=plan) for s in self.settings.plans.get(plan or "", [])]
        return layered(self.defaults, planned, rows=rows)

    def across_rooms(self, rows: Sequence[QuotaRow], user_id: str | None = None) -> list[Quota]:
        """Quotas counted everywhere. With `user_id`: those that count that user's calls, the ones for
        every user made that user's, then that user's plan, then what bot admins set for that user."""
        if user_id is None:
            return layered(self.everywhere, rows=rows, everywhere=True)
        named = [r for r in rows if r.scope == "user" and r.name]
        general = layered(self.everywhere, rows=[r for r in rows if r not in named], everywhere=True)
        mine = [
            q.for_user(user_id) if q.each_user else q
            for q in general
            if q.scope != "user" or q.each_user or q.name == user_id
        ]
        plan = self.settings.user_plans.get(user_id)
        planned = [
            spec_quota(s, "plan", everywhere=True, plan=plan).for_user(user_id)
            for s in self.settings.plans.get(plan or "", [])
            if s.scope == "user" and not s.name
        ]
        return layered(mine, planned, rows=[r for r in named if r.name == user_id], everywhere=True)
