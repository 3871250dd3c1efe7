"""An HTTP tracker's quotas, asked of its collector (README: HTTP API): `GET /v1/quotas/check` for checks and
enforcement, `POST /v1/reservations` to hold a call's estimated use (the collector prices it and checks it
against its config's quotas and limits in one transaction with the reservation, so calls from every host
take turns), `DELETE /v1/reservations/{id}` to end one early; the event that carries the id ends it too.

A refusal comes back as the collector's `QuotaExceeded`, word for word. When the collector cannot be
asked at all, `quotas.unreachable` decides under enforcement (see `TrackerQuotas`): `refuse`, the
default, raises `QuotaUnavailable`, so a hard quota fails closed.
"""

from __future__ import annotations

from typing import Any

from .collector_client import CollectorAway, ask, open_session, unexpected
from .quotas import QuotaExceeded, QuotaStatus
from .quotas.wire import RESERVATION_ID, status_from_json

REQUEST_TIMEOUT_S = 4.0
"""The longest one quota request may take, below the tracker's own wait (`QUOTA_TIMEOUT`)."""


class QuotaUnavailable(QuotaExceeded):
    """A call under enforcement refused because its quotas could not be checked (the collector away, or
    refusing the key) and `quotas.unreachable` is `refuse`. Nothing is known of any quota: `status`,
    `quota`, `used`, `limit` and `resets` are None; `reason` says why the collector could not answer."""

    def __init__(self, reason: str) -> None:  # the base's attributes, none known
        Exception.__init__(self, f"the call is refused: its quotas could not be checked ({reason}); "
                                 "quotas.unreachable: refuse")  # fmt: skip
        self.reason = reason
        self.status = self.quota = self.used = self.limit = self.resets = None  # type: ignore[assignment]


class CollectorQuotas:
    """The collector's quota endpoints, on the tracker's quota thread (its own event loop and session)."""

    def __init__(self, url: str, api_key: str | None) -> None:
        self.base = url.rstrip("/")
        self._session = open_session(api_key, total=REQUEST_TIMEOUT_S)

    @classmethod
    async def open(cls, url: str, api_key: str | None) -> CollectorQuotas:
        return cls(url, api_key)

    async def close(self) -> None:
        await self._session.close()

    async def _check(self, room_id: str | None, agent: str | None, user_id: str | None) -> dict[str, Any]:
        params = {name: value for name, value in (("room", room_id), ("agent", agent), ("user", user_id)) if value}
        status, answer = await ask(self._session, "GET", f"{self.base}/v1/quotas/check", params=params)
        if status != 200:
            raise unexpected(status, answer)
        return answer

    async def tightest(self, room_id: str | None, agent: str | None, user_id: str | None) -> QuotaStatus | None:
        return _status(await self._check(room_id, agent, user_id), "tightest")

    async def enforce(self, room_id: str | None, agent: str | None, user_id: str | None) -> None:
        used_up = _status(await self._check(room_id, agent, user_id), "exhausted")
        if used_up is not None:
            raise QuotaExceeded(used_up)

    async def reserve(self, provider: str, model: str, input_tokens: int, max_output_tokens: int | None,
                      who: dict[str, str | None]) -> str | None:  # fmt: skip
        body = {"provider": provider, "model": model, "input_tokens": max(int(input_tokens), 0),
                "max_output_tokens": None if max_output_tokens is None else max(int(max_output_tokens), 0),
                **{name: value for name, value in who.items() if value}}  # fmt: skip
        status, answer = await ask(self._session, "POST", f"{self.base}/v1/reservations", json=body)
        if status == 429 and "refused" in answer:
            refused = _status(answer, "refused")
            if refused is not None:
                raise QuotaExceeded(refused)
        held = answer.get("reservation", "")
        if status != 200 or not (held is None or (isinstance(held, str) and RESERVATION_ID.fullmatch(held))):
            raise unexpected(status, answer)
        return held

    async def release(self, reservation: str) -> None:
        if not RESERVATION_ID.fullmatch(reservation):
            return  # not the collector's: nothing to end
        status, answer = await ask(self._session, "DELETE", f"{self.base}/v1/reservations/{reservation}")
        if status != 204:
            raise unexpected(status, answer)


def _status(answer: dict[str, Any], name: str) -> QuotaStatus | None:
    value = answer.get(name)
    if value is None:
        return None
    try:
        return status_from_json(value)
    except ValueError as exc:
        raise CollectorAway(f"the collector's answer could not be read ({name}: {exc})") from exc
