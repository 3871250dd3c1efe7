"""What a command handler gets: who asked, where, and the services that answer from the store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from matrix_usage_bot.tracking.periods import Period, parse_period
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.quotas import QuotaBook

if TYPE_CHECKING:
    from ..dashboard.links import DashboardLinks
    from ..features.digests import Digests
from matrix_usage_bot.tracking.store import Store


@dataclass
class Services:
    store: Store
    tz: ZoneInfo
    room_lineage: Callable[[str], tuple[str, ...]]
    room_name: Callable[[str], str | None]
    help_rows: Callable[[], list[tuple[str, str, str]]]
    prefix: str = "!usage"
    quotas: QuotaBook | None = None
    digests: Digests | None = None
    dashboard: DashboardLinks | None = None
    on_quota_change: Callable[[], None] = lambda: None
    clock: Callable[[], datetime] | None = None
    """The time now (tests replace it); None is the wall clock."""
    pricer: Pricer = field(default_factory=Pricer)
    """Prices with the configured overrides, for advice (`!usage whatif`, `!usage savings`)."""

    def now(self) -> datetime:
        return self.clock() if self.clock is not None else datetime.now(UTC)


@dataclass
class Request:
    """One command, as asked. The scope of every answer comes from here, never from the arguments."""

    room_id: str
    sender: str
    thread_root: str | None
    is_direct: bool
    is_bot_admin: bool
    services: Services

    @property
    def rooms(self) -> tuple[str, ...]:
        """This room and the rooms it replaced (room upgrades), whose history it carries."""
        return self.services.room_lineage(self.room_id)

    def period(self, text: str | None, default: str = "month") -> Period:
        return parse_period(text or default, self.services.tz, self.services.now())

