"""Quota checks and reservations for agents on other hosts (README: HTTP API, "Remote agents enforce quotas too").

`POST /v1/reservations` prices a call's estimated use with the server's overrides and holds it against the
hard quotas it counts against, checked in one transaction with the reservation (`QuotaBook.reserve`), so
calls from any number of hosts take turns; a refusal is 429 carrying the quota's status (what
`tracking.QuotaExceeded` carries). A reservation ends with the event that names it (`reservation` in
`POST /v1/events`, in the transaction that stores the event), with `DELETE /v1/reservations/{id}`, or when
it expires (`quotas.reservation_timeout_s`). Only the key that made a reservation can end it: it is stored
under the key's name, and an id given by another key names another reservation (none).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace
from datetime import UTC, datetime

from aiohttp import web
from pydantic import Field, ValidationError

from matrix_usage_bot.tracking.events import describe_validation_error
from matrix_usage_bot.tracking.quotas import QuotaExceeded
from matrix_usage_bot.tracking.quotas.refusals import note_refusal
from matrix_usage_bot.tracking.quotas.wire import RESERVATION_ID, status_json
from matrix_usage_bot.tracking.settings import Strict
from matrix_usage_bot.tracking.tracker_quotas import reservation_row
from matrix_usage_bot.tracking.validation import MAX_TOKENS, RULES

from .auth import REQUEST_KEY, Forbidden, within
from .context import SERVER, ServerContext
from .settings import ApiKey

log = logging.getLogger(__name__)

class ReservationRequest(Strict):
    """A call about to be made: its attribution, model and estimated use (each with the limits of its event's
    field, `tracking.validation.RULES`)."""

    provider: str = Field(min_length=1, max_length=RULES["provider"].limit)  # type: ignore[attr-defined]
    model: str = Field(min_length=1, max_length=RULES["model"].limit)  # type: ignore[attr-defined]
    input_tokens: int = Field(ge=0, le=MAX_TOKENS, strict=True, description="estimated from the request")
    max_output_tokens: int | None = Field(
        default=None, ge=0, le=MAX_TOKENS, strict=True, description="max_tokens; none: quotas.reserve_output_tokens"
    )
    room_id: str | None = Field(default=None, max_length=RULES["room_id"].limit)  # type: ignore[attr-defined]
    agent: str | None = Field(default=None, max_length=RULES["agent"].limit)  # type: ignore[attr-defined]
    user_id: str | None = Field(default=None, max_length=RULES["user_id"].limit)  # type: ignore[attr-defined]


def owned(key: ApiKey, reservation: str) -> str:
    """The stored id of a key's reservation: no other key's id can name it."""
    return f"{key.name}/{reservation}"


def _writer(request: web.Request) -> ApiKey:
    key: ApiKey = request[REQUEST_KEY]
    if not key.ingest:
        raise Forbidden("this key may not reserve or send events (ingest: false)")
    return key


async def reserve(request: web.Request) -> web.Response:
    ctx: ServerContext = request.app[SERVER]
    key = _writer(request)
    try:
        call = ReservationRequest.model_validate_json(await request.read())
    except ValidationError as exc:
        return web.json_response({"error": describe_validation_error(exc, top="body")}, status=400)
    within(key, call.room_id, "room_id")
    who = {"room_id": call.room_id, "agent": call.agent, "user_id": call.user_id}
    row = reservation_row(ctx.pricer, ctx.config.quotas, call.provider, call.model, call.input_tokens,
                          call.max_output_tokens, who, int(time.time() * 1000), key.name)  # fmt: skip
    token, row = row.id, replace(row, id=owned(key, row.id))
    try:
        held = await ctx.quota_book().reserve(row)
    except QuotaExceeded as exc:
        await note_refusal(ctx.store, exc)
        log.info("key %s: a call refused by a hard quota (%s)", key.name, exc.quota.describe())
        wait = max(1, math.ceil(exc.resets.timestamp() - time.time()))
        return web.json_response({"error": str(exc), "refused": status_json(exc.status)}, status=429,
                                 headers={"Retry-After": str(wait)})  # fmt: skip
    if not held:
        return web.json_response({"reservation": None, "expires": None})
    expires = datetime.fromtimestamp(row.expires_ms / 1000, UTC).isoformat()
    return web.json_response({"reservation": token, "expires": expires})


async def end(request: web.Request) -> web.Response:
    ctx: ServerContext = request.app[SERVER]
    key = _writer(request)
    reservation = request.match_info["id"]
    if RESERVATION_ID.fullmatch(reservation):
        await ctx.store.end_reservations([owned(key, reservation)])
    return web.Response(status=204)
