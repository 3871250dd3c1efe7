"""Quotas: budgets of tokens or dollars per room, agent in a room, user in a room, or globally.

Windows are calendar days or months in the configured timezone. Defaults come from the config and
apply to every room; a room may set its own (replacing the default with the same scope, name and
window) or clear one. Usage counts what the store holds when the check runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from .amounts import Amount, checked_amount, parse_amount
from .periods import Period, parse_period
from .pricing import PICO, pico_to_usd
from .queries import usage_report
from .settings import QuotaSettings
from .store import QuotaRow, Store

Scope = Literal["room", "agent", "user", "global"]
log = logging.getLogger(__name__)

Window = Literal["daily", "monthly"]


@dataclass(frozen=True)
class Quota:
    scope: Scope
    window: Window
    amount: Amount
    name: str = ""
    hard: bool = False
    source: Literal["config", "room"] = "config"

    @property
    def limit(self) -> int:
        """In the unit usage is counted in: tokens, or pico-dollars."""
        return self.amount.tokens if self.amount.unit == "tokens" else int(self.amount.value * PICO)

    def key(self, room_id: str | None) -> str:
        """Identity for 'already warned': a changed limit is a new quota and warns anew."""
        where = "" if self.scope == "global" else room_id or ""
        return f"{self.scope}|{where}|{self.name}|{self.window}|{self.amount.unit}:{self.amount.value}"

    def subject(self) -> str:
        """Whose budget, in words: "this room's", "agent researcher's", ..."""
        return {
            "room": "this room's",
            "agent": f"agent {self.name}'s",
            "user": f"{self.name}'s",
            "global": "the global",
        }[self.scope]

    def describe(self) -> str:
        unit = "token" if self.amount.unit == "tokens" else "dollar"
        window = "daily" if self.window == "daily" else "monthly"
        return f"{self.subject()} {window} {unit} budget"


@dataclass(frozen=True)
class QuotaStatus:
    quota: Quota
    room_id: str | None
    used: int
    period: Period

    @property
    def limit(self) -> int:
        return self.quota.limit

    @property
    def fraction(self) -> Decimal:
        return Decimal(self.used) / Decimal(max(self.limit, 1))

    @property
    def percent(self) -> int:
        return int(self.fraction * 100)

    @property
    def exhausted(self) -> bool:
        return self.used >= self.limit

    @property
    def resets(self) -> date:
        return self.period.end_day

    def used_amount(self) -> Decimal:
        return Decimal(self.used) if self.quota.amount.unit == "tokens" else pico_to_usd(self.used)


class QuotaExceeded(Exception):
    """A hard quota is used up; raised before the LLM is called."""

    def __init__(self, status: QuotaStatus) -> None:
        self.status = status
        self.quota = status.quota
        self.used = status.used_amount()
        self.resets = status.resets
        q = status.quota
        limit = f"{q.amount.value} tokens" if q.amount.unit == "tokens" else f"${q.amount.value}"
        used = f"{self.used} tokens" if q.amount.unit == "tokens" else f"${self.used}"
        super().__init__(f"{q.describe()} is used up ({used} of {limit}); it resets on {self.resets.isoformat()}")


def config_quotas(settings: QuotaSettings) -> list[Quota]:
    return [
        Quota(spec.scope, spec.window, parse_amount(spec.limit), spec.name or "", spec.hard)
        for spec in settings.defaults
    ]


def effective_quotas(defaults: Sequence[Quota], room_rows: Sequence[QuotaRow]) -> list[Quota]:
    """The config defaults, with the room's own quotas replacing (or, when disabled, removing) them."""
    by_key: dict[tuple[str, str, str], Quota | None] = {(q.scope, q.name, q.window): q for q in defaults}
    for row in room_rows:
        key = (row.scope, row.name, row.window)
        if row.disabled:
            by_key[key] = None
        else:
            try:
                amount = checked_amount(row.unit, Decimal(row.limit_value))
            except (ValueError, ArithmeticError) as err:  # written by an older version: skip it, keep the rest
                log.warning("ignoring the %s %s quota of %s: %r is no usable amount (%s)",
                            row.window, row.scope, row.room_id, row.limit_value, err)  # fmt: skip
                continue
            by_key[key] = Quota(row.scope, row.window, amount, row.name, row.hard, "room")  # type: ignore[arg-type]
    return [q for q in by_key.values() if q is not None]


def applies(quota: Quota, agent: str | None, user_id: str | None) -> bool:
    """Whether a call by this agent for this user counts against the quota."""
    if quota.scope == "agent":
        return agent == quota.name
    if quota.scope == "user":
        return user_id == quota.name
    return True


async def quota_status(
    store: Store, quota: Quota, room_ids: Sequence[str] | None, tz: ZoneInfo, now: datetime | None = None
) -> QuotaStatus:
    period = parse_period("today" if quota.window == "daily" else "month", tz, now)
    report = await usage_report(
        store,
        period,
        room_id=None if quota.scope == "global" or not room_ids else tuple(room_ids),
        agent=quota.name if quota.scope == "agent" else None,
        user_id=quota.name if quota.scope == "user" else None,
    )
    used = report.totals.total_tokens if quota.amount.unit == "tokens" else report.totals.cost_pusd
    return QuotaStatus(quota, room_ids[0] if room_ids else None, used, period)


class QuotaBook:
    """Answers quota questions for one store: which quotas apply where, and how much of each is used."""

    def __init__(self, store: Store, settings: QuotaSettings, tz: ZoneInfo,
                 clock: Callable[[], datetime] | None = None) -> None:  # fmt: skip
        self.store = store
        self.settings = settings
        self.tz = tz
        self.defaults = config_quotas(settings)
        self.clock = clock or (lambda: datetime.now(UTC))

    async def for_room(self, room_ids: Sequence[str]) -> list[Quota]:
        return effective_quotas(self.defaults, await self.store.room_quotas(room_ids[:1]))

    async def statuses(self, room_ids: Sequence[str]) -> list[QuotaStatus]:
        """Every quota of the room (global ones included), with its use in the current window."""
        quotas = await self.for_room(room_ids)
        return [await quota_status(self.store, q, room_ids, self.tz, self.clock()) for q in quotas]

    async def check(
        self, *, room_id: str | None = None, agent: str | None = None, user_id: str | None = None
    ) -> QuotaStatus | None:
        """The tightest quota that a call with this attribution counts against, or None."""
        rooms = [room_id] if room_id else []
        quotas = await self.for_room(rooms) if rooms else [q for q in self.defaults if q.scope == "global"]
        statuses = [
            await quota_status(self.store, q, rooms, self.tz, self.clock())
            for q in quotas
            if applies(q, agent, user_id) and (rooms or q.scope == "global")
        ]
        return max(statuses, key=lambda s: s.fraction, default=None)

    async def enforce(self, *, room_id: str | None = None, agent: str | None = None,
                      user_id: str | None = None) -> None:  # fmt: skip
        """Raise QuotaExceeded when a hard quota that this call counts against is used up."""
        rooms = [room_id] if room_id else []
        quotas = await self.for_room(rooms) if rooms else [q for q in self.defaults if q.scope == "global"]
        for quota in quotas:
            if quota.hard and applies(quota, agent, user_id) and (rooms or quota.scope == "global"):
                status = await quota_status(self.store, quota, rooms, self.tz, self.clock())
                if status.exhausted:
                    raise QuotaExceeded(status)
