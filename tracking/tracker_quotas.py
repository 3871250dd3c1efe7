"""The quota side of `Tracker`: checks, enforcement and reservations, on the tracker's own read connection.

A call about to be made under enforcement reserves what it may use (its input, estimated from the
request, and its output, at most `max_tokens` or `quotas.reserve_output_tokens`) before the provider is
contacted; the check counts what is used and what calls under way hold, in one transaction, so
concurrent calls cannot jointly overshoot a hard quota, in one process or in many sharing the store.
The reservation ends when the call's event is stored, or after `quotas.reservation_timeout_s`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .context import _current
from .events import new_event_id
from .http_sink import REMOTE_READS
from .pricing import Pricer
from .reader import Reader
from .settings import QuotaSettings
from .store import Store, StoreError
from .store.reservations import ReservationRow

if TYPE_CHECKING:
    from .quotas import QuotaBook, QuotaStatus

QUOTA_TIMEOUT = 5.0
"""Seconds a quota check may wait for the store (busy writer, locked database) before it gives up."""


class TrackerQuotas:
    """Mixed into `Tracker`, which sets these attributes."""

    quota_settings: QuotaSettings
    timezone: str
    clock: Callable[[], datetime] | None
    pricer: Pricer
    source: str
    _quota_reader: Reader | None

    def _reader_or_refuse(self) -> Reader:
        if self._quota_reader is None:
            raise StoreError(REMOTE_READS)
        return self._quota_reader

    def _on_book(self, call: Callable[[QuotaBook], Coroutine[Any, Any, Any]]) -> concurrent.futures.Future[Any]:
        from .periods import zone
        from .quotas import QuotaBook, QuotaExceeded
        from .quotas.refusals import note_refusal

        settings, tz, clock = self.quota_settings, zone(self.timezone), self.clock

        async def run(store: Store) -> Any:
            try:
                return await call(QuotaBook(store, settings, tz, clock))
            except QuotaExceeded as exc:
                await note_refusal(store, exc)
                raise

        return self._reader_or_refuse().submit(run)

    async def check_quota(
        self, *, room_id: str | None = None, agent: str | None = None, user_id: str | None = None
    ) -> QuotaStatus | None:
        """The tightest quota that a call with this attribution counts against, with its use; None if none."""
        future = self._on_book(lambda book: book.check(room_id=room_id, agent=agent, user_id=user_id))
        return await asyncio.wait_for(asyncio.wrap_future(future), QUOTA_TIMEOUT)

    def check_quota_sync(
        self, *, room_id: str | None = None, agent: str | None = None, user_id: str | None = None
    ) -> QuotaStatus | None:
        future = self._on_book(lambda book: book.check(room_id=room_id, agent=agent, user_id=user_id))
        return future.result(QUOTA_TIMEOUT)

    async def enforce_quota(self, **attribution: str | None) -> None:
        """Raise tracking.QuotaExceeded if a hard quota for this attribution (or the context's) is used up."""
        who = _attribution(attribution)
        await asyncio.wait_for(asyncio.wrap_future(self._on_book(lambda book: book.enforce(**who))), QUOTA_TIMEOUT)

    def enforce_quota_sync(self, **attribution: str | None) -> None:
        who = _attribution(attribution)
        self._on_book(lambda book: book.enforce(**who)).result(QUOTA_TIMEOUT)

    async def reserve(self, *, provider: str, model: str, input_tokens: int, max_output_tokens: int | None = None,
                      **attribution: str | None) -> str | None:  # fmt: skip
        """Hold this call's estimated use against the hard quotas it counts against, or raise QuotaExceeded.

        Returns the reservation to pass to `record(reservation=...)`; None when no hard quota applies.
        """
        row = self._reservation(provider, model, input_tokens, max_output_tokens, attribution)
        future = self._on_book(lambda book: book.reserve(row))
        held = await asyncio.wait_for(asyncio.wrap_future(future), QUOTA_TIMEOUT)
        return row.id if held else None

    def reserve_sync(self, *, provider: str, model: str, input_tokens: int, max_output_tokens: int | None = None,
                     **attribution: str | None) -> str | None:  # fmt: skip
        row = self._reservation(provider, model, input_tokens, max_output_tokens, attribution)
        return row.id if self._on_book(lambda book: book.reserve(row)).result(QUOTA_TIMEOUT) else None

    def release_sync(self, reservation: str) -> None:
        """End a reservation whose call will not be recorded (it never started)."""
        self._reader_or_refuse().submit(lambda store: store.end_reservations([reservation])).result(QUOTA_TIMEOUT)

    def _reservation(self, provider: str, model: str, input_tokens: int, max_output_tokens: int | None,
                     attribution: dict[str, str | None]) -> ReservationRow:  # fmt: skip
        who = _attribution(attribution)
        now = self.clock() if self.clock is not None else None
        now_ms = int((now.timestamp() if now is not None else time.time()) * 1000)
        output = self.quota_settings.reserve_output_tokens if max_output_tokens is None else max_output_tokens
        inp, out = max(int(input_tokens), 0), max(int(output), 0)
        cost = self.pricer.price_pico_ms(provider, model, now_ms, inp, out, 0, 0) or 0
        hold_ms = int(self.quota_settings.reservation_timeout_s * 1000)
        return ReservationRow(new_event_id(), who["room_id"] or "", who["agent"] or "", who["user_id"] or "",
                              inp + out, cost, now_ms, now_ms + hold_ms, self.source)  # fmt: skip


def _attribution(given: dict[str, str | None]) -> dict[str, str | None]:
    ctx = _current.get()
    return {key: given.get(key) or ctx.get(key) for key in ("room_id", "agent", "user_id")}
