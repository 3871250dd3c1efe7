"""The quota side of `Tracker`: checks, enforcement and reservations, on the tracker's own quota thread.

A call about to be made under enforcement reserves what it may use (its input, estimated from the
request, and its output, at most `max_tokens` or `quotas.reserve_output_tokens`) before the provider is
contacted; the check counts what is used and what calls under way hold, in one transaction, so
concurrent calls cannot jointly overshoot a hard quota, in one process or in many sharing the store.
The reservation ends when the call's event is stored, or after `quotas.reservation_timeout_s`.

A tracker on the store asks it itself (its read connection, `Reader`); an HTTP tracker asks the collector
(`remote_quotas`), which checks and reserves the same way against its own store and config.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .context import _current
from .fields import Counts
from .pricing import Pricer
from .reader import Reader
from .remote_quotas import CollectorQuotas, QuotaUnavailable
from .settings import QuotaSettings
from .store import Store, StoreError
from .store.reservations import ReservationRow
from .validation import new_event_id

if TYPE_CHECKING:
    from .quotas import QuotaBook, QuotaStatus

log = logging.getLogger(__name__)

QUOTA_TIMEOUT = 5.0
"""Seconds a quota check may wait for the store or the collector before it gives up."""

Local = Callable[["QuotaBook"], Coroutine[Any, Any, Any]]
Remote = Callable[[CollectorQuotas], Coroutine[Any, Any, Any]]


def reservation_row(
    pricer: Pricer,
    settings: QuotaSettings,
    provider: str,
    model: str,
    input_tokens: int,
    max_output_tokens: int | None,
    who: Mapping[str, str | None],
    now_ms: int,
    source: str,
) -> ReservationRow:
    """What a call holds: its input and its output (at most `max_output_tokens`, else the configured
    default), priced at the model's price now, until `quotas.reservation_timeout_s` from now."""
    output = settings.reserve_output_tokens if max_output_tokens is None else max_output_tokens
    inp, out = max(int(input_tokens), 0), max(int(output), 0)
    cost = pricer.price_pico_ms(provider, model, now_ms, Counts(input_tokens=inp, output_tokens=out)) or 0
    hold_ms = int(settings.reservation_timeout_s * 1000)
    return ReservationRow(new_event_id(), who["room_id"] or "", who["agent"] or "", who["user_id"] or "",
                          inp + out, cost, now_ms, now_ms + hold_ms, source)  # fmt: skip


class TrackerQuotas:
    """Mixed into `Tracker`, which sets these attributes."""

    quota_settings: QuotaSettings
    timezone: str
    clock: Callable[[], datetime] | None
    pricer: Pricer
    source: str
    _quota_reader: Reader
    """The store's read connection; for an HTTP tracker, the collector's client (`CollectorQuotas`)."""
    _remote: bool

    def _ask(self, local: Local, remote: Remote) -> concurrent.futures.Future[Any]:
        return self._on_collector(remote) if self._remote else self._on_book(local)

    def _on_collector(self, call: Remote) -> concurrent.futures.Future[Any]:
        return self._quota_reader.submit(call)  # type: ignore[arg-type]

    def _on_book(self, call: Local) -> concurrent.futures.Future[Any]:
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

        return self._quota_reader.submit(run)

    async def _wait(self, future: concurrent.futures.Future[Any], enforcing: bool = True) -> Any:
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), QUOTA_TIMEOUT)
        except (StoreError, TimeoutError) as exc:
            return self._unanswered(exc, enforcing)

    def _wait_sync(self, future: concurrent.futures.Future[Any], enforcing: bool = True) -> Any:
        try:
            return future.result(QUOTA_TIMEOUT)
        except (StoreError, TimeoutError) as exc:
            return self._unanswered(exc, enforcing)

    def _unanswered(self, exc: BaseException, enforcing: bool) -> None:
        """The collector could not be asked: under enforcement `quotas.unreachable` decides (refuse: raise
        QuotaUnavailable; allow: the call goes ahead). A tracker on the store, or a mere check, raises."""
        if not (self._remote and enforcing):
            raise exc
        if self.quota_settings.unreachable == "allow":
            log.warning("quotas could not be checked (%s); the call goes ahead (quotas.unreachable: allow)", exc)
            return None
        raise QuotaUnavailable(str(exc)) from exc

    async def check_quota(
        self, *, room_id: str | None = None, agent: str | None = None, user_id: str | None = None
    ) -> QuotaStatus | None:
        """The tightest quota that a call with this attribution counts against, with its use; None if none."""
        who = {"room_id": room_id, "agent": agent, "user_id": user_id}
        return await self._wait(self._ask(lambda book: book.check(**who), lambda c: c.tightest(**who)), False)

    def check_quota_sync(
        self, *, room_id: str | None = None, agent: str | None = None, user_id: str | None = None
    ) -> QuotaStatus | None:
        who = {"room_id": room_id, "agent": agent, "user_id": user_id}
        return self._wait_sync(self._ask(lambda book: book.check(**who), lambda c: c.tightest(**who)), False)

    async def enforce_quota(self, **attribution: str | None) -> None:
        """Raise tracking.QuotaExceeded if a hard quota for this attribution (or the context's) is used up."""
        who = _attribution(attribution)
        await self._wait(self._ask(lambda book: book.enforce(**who), lambda c: c.enforce(**who)))

    def enforce_quota_sync(self, **attribution: str | None) -> None:
        who = _attribution(attribution)
        self._wait_sync(self._ask(lambda book: book.enforce(**who), lambda c: c.enforce(**who)))

    async def reserve(self, *, provider: str, model: str, input_tokens: int, max_output_tokens: int | None = None,
                      **attribution: str | None) -> str | None:  # fmt: skip
        """Hold this call's estimated use against the hard quotas it counts against, or raise QuotaExceeded.

        Returns the reservation to pass to `record(reservation=...)`; None when no hard quota applies.
        """
        return await self._wait(self._reserving(provider, model, input_tokens, max_output_tokens, attribution))

    def reserve_sync(self, *, provider: str, model: str, input_tokens: int, max_output_tokens: int | None = None,
                     **attribution: str | None) -> str | None:  # fmt: skip
        return self._wait_sync(self._reserving(provider, model, input_tokens, max_output_tokens, attribution))

    def release_sync(self, reservation: str) -> None:
        """End a reservation whose call will not be recorded (it never started)."""

        async def local(book: QuotaBook) -> None:
            await book.store.end_reservations([reservation])

        self._wait_sync(self._ask(local, lambda c: c.release(reservation)), False)

    def _reserving(self, provider: str, model: str, input_tokens: int, max_output_tokens: int | None,
                   attribution: dict[str, str | None]) -> concurrent.futures.Future[Any]:  # fmt: skip
        who = _attribution(attribution)
        if self._remote:
            return self._on_collector(lambda c: c.reserve(provider, model, input_tokens, max_output_tokens, who))
        now = self.clock() if self.clock is not None else None
        now_ms = int((now.timestamp() if now is not None else time.time()) * 1000)
        row = reservation_row(self.pricer, self.quota_settings, provider, model, input_tokens, max_output_tokens, who,
                              now_ms, self.source)  # fmt: skip

        async def local(book: QuotaBook) -> str | None:
            return row.id if await book.reserve(row) else None

        return self._on_book(local)


def _attribution(given: dict[str, str | None]) -> dict[str, str | None]:
    ctx = _current.get()
    return {key: given.get(key) or ctx.get(key) for key in ("room_id", "agent", "user_id")}
