"""Quota questions for one store: which quotas hold where, and how much of each is used now."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ..periods import Period, parse_period, this_hour
from ..queries import usage_report
from ..settings import QuotaSettings
from ..store import EVERYWHERE, Filters, Store
from ..store.reservations import ReservationRow
from .model import Quota, QuotaExceeded, QuotaStatus
from .rules import PLAN_VALUE, QuotaRules


def window_period(window: str, tz: ZoneInfo, now: datetime) -> Period:
    if window == "hourly":
        return this_hour(tz, now)
    return parse_period("today" if window == "daily" else "month", tz, now)


def applies(quota: Quota, agent: str | None, user_id: str | None) -> bool:
    """Whether a call by this agent for this user counts against the quota."""
    if quota.scope == "agent":
        return agent is not None and (quota.each or agent == quota.name)
    if quota.scope == "user":
        return user_id is not None and (quota.each_user or user_id == quota.name)
    return True


async def quota_status(
    store: Store, quota: Quota, room_ids: Sequence[str] | None, tz: ZoneInfo, now: datetime | None = None
) -> QuotaStatus:
    period = window_period(quota.window, tz, now or datetime.now(UTC))
    report = await usage_report(
        store,
        period,
        room_id=None if quota.counts_everywhere or not room_ids else tuple(room_ids),
        agent=quota.name if quota.scope == "agent" else None,
        user_id=quota.name if quota.scope == "user" else None,
    )
    totals = report.totals
    used = totals.total_tokens if quota.amount.unit == "tokens" else totals.cost_pusd
    return QuotaStatus(quota, None if quota.counts_everywhere or not room_ids else room_ids[0], used, period,
                       calls=totals.calls, unpriced_calls=totals.unpriced_calls)


class QuotaBook:
    def __init__(self, store: Store, settings: QuotaSettings, tz: ZoneInfo,
                 clock: Callable[[], datetime] | None = None) -> None:  # fmt: skip
        self.store = store
        self.settings = settings
        self.rules = QuotaRules(settings)
        self.tz = tz
        self.clock = clock or (lambda: datetime.now(UTC))

    # which quotas

    async def room_plan(self, room_id: str) -> str | None:
        return self.rules.plan_of_room(room_id, (await self.store.room_values(PLAN_VALUE)).get(room_id))

    async def set_room_plan(self, room_id: str, plan: str | None) -> None:
        if plan is not None and plan not in self.settings.plans:
            raise ValueError(f"there is no plan {plan!r}; plans: {', '.join(sorted(self.settings.plans)) or 'none'}")
        await self.store.set_room_value(room_id, PLAN_VALUE, plan)

    async def for_room(self, room_ids: Sequence[str]) -> list[Quota]:
        """Quotas counted in the room (`room_ids`: the room, then the rooms it replaced)."""
        if not room_ids:
            return []
        rows = await self.store.quota_rows(room_ids[:1])
        return self.rules.in_room(await self.room_plan(room_ids[0]), rows)

    async def everywhere(self, user_id: str | None = None) -> list[Quota]:
        return self.rules.across_rooms(await self.store.quota_rows([EVERYWHERE]), user_id)

    # how much is used

    async def status(self, quota: Quota, room_ids: Sequence[str] = ()) -> QuotaStatus:
        return await quota_status(self.store, quota, room_ids, self.tz, self.clock())

    async def statuses(self, room_ids: Sequence[str]) -> list[QuotaStatus]:
        """The room's quotas with their use; a quota for every user, once for each user who used some."""
        statuses = []
        for quota in await self.for_room(room_ids):
            if quota.each:
                for name in await self._names_with_use(quota, room_ids):
                    statuses.append(await self.status(quota.for_name(name), room_ids))
            else:
                statuses.append(await self.status(quota, room_ids))
        return statuses

    async def everywhere_statuses(self, user_id: str | None = None) -> list[QuotaStatus]:
        """Quotas counted across all rooms with their use: one user's, or everybody's (each user's own
        quotas for every user who used some this month)."""
        if user_id is not None:
            return [await self.status(q) for q in await self.everywhere(user_id)]
        general = await self.everywhere()
        statuses = []
        for quota in general:
            if quota.scope == "agent" and quota.each:
                statuses += [await self.status(quota.for_name(a)) for a in await self._names_with_use(quota, ())]
            elif quota.scope != "user":
                statuses.append(await self.status(quota))
        if any(q.scope == "user" for q in general) or self.settings.user_plans:
            month = window_period("monthly", self.tz, self.clock())
            report = await usage_report(self.store, month, group="user")
            for user in sorted(str(r.key) for r in report.rows if r.key and r.calls):
                statuses += [await self.status(q) for q in await self.everywhere(user) if q.scope == "user"]
        return statuses

    async def _names_with_use(self, quota: Quota, room_ids: Sequence[str]) -> list[str]:
        """The users (agents) with calls in the quota's window: the ones a quota for each of them concerns."""
        period = window_period(quota.window, self.tz, self.clock())
        report = await usage_report(self.store, period, group=quota.scope, room_id=tuple(room_ids) or None)
        return sorted(str(r.key) for r in report.rows if r.key and r.calls)

    # a call about to be made

    async def applying(self, room_id: str | None, agent: str | None, user_id: str | None) -> list[QuotaStatus]:
        """Every quota a call with this attribution counts against, with its use."""
        rooms = [room_id] if room_id else []
        who = {"user": user_id, "agent": agent}
        quotas = [q.for_name(who[q.scope] or "") if q.each else q for q in await self.for_room(rooms)]
        quotas += [q.for_name(agent or "") if q.each else q for q in await self.everywhere(user_id)]
        return [await self.status(q, rooms) for q in quotas if applies(q, agent, user_id)]

    async def check(
        self, *, room_id: str | None = None, agent: str | None = None, user_id: str | None = None
    ) -> QuotaStatus | None:
        """The tightest quota that a call with this attribution counts against, or None."""
        return tightest(await self.applying(room_id, agent, user_id))

    async def enforce(self, *, room_id: str | None = None, agent: str | None = None,
                      user_id: str | None = None) -> None:  # fmt: skip
        """Raise QuotaExceeded when a hard quota that this call counts against is used up."""
        status = used_up(await self.applying(room_id, agent, user_id))
        if status is not None:
            raise QuotaExceeded(status)

    async def reserve(self, row: ReservationRow) -> bool:
        """Hold `row` (a call's estimated tokens and cost) if every hard quota the call counts against has
        room for it, counting what calls under way already hold; raise QuotaExceeded naming the first
        that has not. False, and nothing held, when no hard quota applies."""

        async def allowed() -> bool:
            statuses = await self.applying(row.room_id or None, row.agent or None, row.user_id or None)
            hard = [s for s in statuses if s.quota.hard]
            for status in hard:
                tokens, pusd = await self.store.reserved(_held_by(status.quota, row.room_id), row.created_ms)
                held, need = (tokens, row.tokens) if status.quota.amount.unit == "tokens" else (pusd, row.cost_pusd)
                if status.used >= status.limit or status.used + held + need > status.limit:
                    raise QuotaExceeded(replace(status, reserved=held, requested=need))
            return bool(hard)

        return await self.store.reserve_if(row, allowed)


def tightest(statuses: Sequence[QuotaStatus]) -> QuotaStatus | None:
    """The status of the quota nearest its limit (what `check` answers)."""
    return max(statuses, key=lambda s: s.fraction, default=None)


def used_up(statuses: Sequence[QuotaStatus]) -> QuotaStatus | None:
    """The first hard quota used up (what `enforce` refuses with)."""
    return next((s for s in statuses if s.quota.hard and s.exhausted), None)


def _held_by(quota: Quota, room_id: str) -> Filters:
    """The reservations that count against `quota`: the same room (unless counted everywhere), agent, user."""
    return Filters(
        room_id=None if quota.counts_everywhere else room_id,
        agent=quota.name if quota.scope == "agent" else None,
        user_id=quota.name if quota.scope == "user" else None,
    )
