"""What the bot's features share: the usage store, the bot's own state, the quotas and the Matrix link."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from matrix_usage_bot.tracking.quotas import QuotaBook
from matrix_usage_bot.tracking.store import Store

from ..matrix.link import MatrixLink
from ..notify.notifier import Notifier
from ..state import BotState


@dataclass(frozen=True)
class BotParts:
    store: Store
    state: BotState
    quotas: QuotaBook
    matrix: MatrixLink
    notifier: Notifier | None = None
    """Webhooks and PostHog: told of each warning, spike and digest once it is posted."""

    def room_lineage(self, room_id: str) -> tuple[str, ...]:
        """The room and the rooms it replaced: every answer about a room covers them all."""
        return self.matrix.rooms.lineage(room_id)

    def notify(self, kind: str, notice_id: str, payload: dict[str, Any]) -> None:
        if self.notifier is not None:
            self.notifier.notify(kind, notice_id, payload)
