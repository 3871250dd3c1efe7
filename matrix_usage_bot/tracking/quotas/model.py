"""What a quota is, how much of it is used, and the refusal raised when a hard one is used up."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Literal

from ..amounts import Amount
from ..periods import Period
from ..pricing import PICO, pico_to_usd, usd_text

Scope = Literal["room", "agent", "user", "global"]
Window = Literal["hourly", "daily", "monthly"]
Source = Literal["config", "room", "plan", "everywhere"]


@dataclass(frozen=True)
class Quota:
    """A budget. `everywhere` quotas count across all rooms; a user or agent quota without a name
    stands for every user (agent), each on their own: `for_user` (`for_name`) makes one's own."""

    scope: Scope
    window: Window
    amount: Amount
    name: str = ""
    hard: bool = False
    source: Source = "config"
    everywhere: bool = False
    plan: str | None = None

    @property
    def identity(self) -> tuple[str, str, bool, str, str]:
        """(scope, name, everywhere, window, unit): two quotas with the same identity are one quota."""
        return (self.scope, self.name, self.counts_everywhere, self.window, self.amount.unit)

    @property
    def counts_everywhere(self) -> bool:
        return self.everywhere or self.scope == "global"

    @property
    def each(self) -> bool:
        return self.scope in ("user", "agent") and not self.name

    @property
    def each_user(self) -> bool:
        return self.scope == "user" and not self.name

    def for_name(self, name: str) -> Quota:
        return replace(self, name=name)

    def for_user(self, user_id: str) -> Quota:
        return self.for_name(user_id)

    @property
    def limit(self) -> int:
        """In the unit usage is counted in: tokens, or pico-dollars."""
        return self.amount.tokens if self.amount.unit == "tokens" else int(self.amount.value * PICO)

    def key(self, room_id: str | None) -> str:
        """Identity for 'already warned': a changed limit is a new quota and warns anew."""
        where = "*" if self.counts_everywhere else room_id or ""
        if self.scope == "global":
            where = ""
        return f"{self.scope}|{where}|{self.name}|{self.window}|{self.amount.unit}:{self.amount.value}"

    def subject(self) -> str:
        """Whose budget, in words: "this room's", "agent researcher's", ..."""
        if self.scope == "room":
            return "this room's"
        if self.scope == "global":
            return "the global"
        if not self.name:
            who = f"each {self.scope}'s"
        else:
            who = f"agent {self.name}'s" if self.scope == "agent" else f"{self.name}'s"
        return f"{who} all-rooms" if self.everywhere else who

    def describe(self) -> str:
        unit = "token" if self.amount.unit == "tokens" else "dollar"
        return f"{self.subject()} {self.window} {unit} budget"


@dataclass(frozen=True)
class QuotaStatus:
    quota: Quota
    room_id: str | None
    used: int
    period: Period
    reserved: int = 0
    """Held by calls under way (reservations), counted by the enforcement check only."""
    calls: int = 0
    unpriced_calls: int = 0
    """The window's calls, and those of them no price knows: a dollar quota counts the priced ones only."""
    requested: int = 0
    """What the call being checked would hold (its estimated tokens or cost), when a reservation is refused."""

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
    def resets(self) -> datetime:
        """When the window ends, in the configured timezone."""
        return self.period.end.astimezone(self.period.tz)

    def used_amount(self) -> Decimal:
        return self.amount_of(self.used)

    def amount_of(self, value: int) -> Decimal:
        return Decimal(value) if self.quota.amount.unit == "tokens" else pico_to_usd(value)


def resets_words(status: QuotaStatus) -> str:
    """'on 2026-07-01' for days and months, 'at 15:00 (Europe/Berlin)' for an hour."""
    when = status.resets
    if status.quota.window == "hourly":
        return f"at {when:%H:%M} ({status.period.tz.key})"
    return f"on {when.date().isoformat()}"


class QuotaExceeded(Exception):
    """A hard quota has no room for the call; raised before the LLM is called.

    `quota` says which, `used` and `limit` are in its unit (tokens or USD; `used` counts calls under
    way too), `resets` is when its window ends. `needed` is what the call alone would have used (its
    estimate, in the same unit) when it was refused for needing more than is left, else None.
    """

    def __init__(self, status: QuotaStatus) -> None:
        self.status = status
        self.quota = status.quota
        self.used = status.amount_of(status.used + status.reserved)
        self.limit = status.quota.amount.value
        self.resets = status.resets
        left = status.limit - status.used - status.reserved
        self.needed = status.amount_of(status.requested) if status.requested > left > 0 else None
        super().__init__(_refusal_text(self, status.amount_of(left), status.amount_of(status.reserved)))


def _refusal_text(exc: QuotaExceeded, left: Decimal, held: Decimal) -> str:
    """'this room's daily token budget is used up (5,000 tokens of 5,000 tokens); it resets on 2026-07-01', or
    for a call that alone needs more than is left: 'this call would need about 6,200 tokens; 5,000 tokens of
    this room's daily token budget are left; it resets on 2026-07-01'."""
    q = exc.status.quota
    tokens = q.amount.unit == "tokens"

    def amount(value: Decimal) -> str:
        return f"{int(value):,} tokens" if tokens else usd_text(value)

    resets = f"it resets {resets_words(exc.status)}"
    if exc.needed is not None:
        under_way = f" ({amount(held)} more held by calls under way)" if held else ""
        verb = "are" if tokens else "is"
        return f"this call would need about {amount(exc.needed)}; {amount(left)} of {q.describe()} {verb} left" \
               f"{under_way}; {resets}"  # fmt: skip
    under_way = " with calls under way" if held else ""
    return f"{q.describe()} is used up ({amount(exc.used)} of {amount(exc.limit)}{under_way}); {resets}"
