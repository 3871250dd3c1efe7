"""The endpoints of SPEC section 9. Each answers JSON; errors are `{"error": "..."}` naming the field."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from tracking.collect import BodyError, parse_events, price_events, store_rows
from tracking.periods import parse_period, zone
from tracking.queries import GROUPS, usage_report
from tracking.quotas import QuotaBook

from ..notify.payloads import quota_json
from ..render.report_formats import report_json
from .advice import ADVICE_ROUTES
from .auth import REQUEST_KEY, Forbidden, may_see, room_scope
from .context import SERVER, ServerContext
from .metrics import metrics_text
from .openapi import openapi

log = logging.getLogger(__name__)

USAGE_PARAMS = frozenset({"period", "by", "room", "agent", "user", "tz"})
HEALTH_TIMEOUT = 2.0


def error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


class BadRequest(Exception):
    """A bad parameter; answered 400 with the message, which names it."""


def _params(request: web.Request, allowed: frozenset[str]) -> dict[str, str]:
    """The query, each parameter once; an unknown or repeated one is a 400 naming it."""
    params: dict[str, str] = {}
    for name, value in request.query.items():
        if name not in allowed:
            raise BadRequest(f"{name}: unknown parameter; use {', '.join(sorted(allowed))}")
        if name in params:
            raise BadRequest(f"{name}: given more than once")
        params[name] = value
    return params


async def healthz(request: web.Request) -> web.Response:
    ctx = request.app[SERVER]
    try:
        await asyncio.wait_for(ctx.store.schema_version(), HEALTH_TIMEOUT)
    except Exception as exc:
        log.warning("health check: the store does not answer (%s)", type(exc).__name__)
        return web.json_response({"status": "unavailable"}, status=503)
    return web.json_response({"status": "ok"})


async def usage(request: web.Request) -> web.Response:
    ctx: ServerContext = request.app[SERVER]
    params = _params(request, USAGE_PARAMS)
    by = params.get("by") or None
    if by is not None and by not in GROUPS:
        return error(400, f"by: unknown breakdown {by!r}; use one of: {', '.join(GROUPS)}")
    try:
        tz = zone(params.get("tz") or ctx.config.bot.timezone)
    except ValueError as exc:
        return error(400, f"tz: {exc}")
    try:
        period = parse_period(params.get("period") or "month", tz)
    except ValueError as exc:
        return error(400, f"period: {exc}")
    rooms = room_scope(request[REQUEST_KEY], params.get("room"))
    report = await usage_report(ctx.store, period, group=by, room_id=rooms, agent=params.get("agent") or None,
                                user_id=params.get("user") or None)  # fmt: skip
    return web.Response(text=report_json(report), content_type="application/json")


async def quotas(request: web.Request) -> web.Response:
    ctx: ServerContext = request.app[SERVER]
    room = _params(request, frozenset({"room"})).get("room")
    if not room:
        return error(400, "room: required (the room whose quotas to show)")
    room_scope(request[REQUEST_KEY], room)
    book = QuotaBook(ctx.store, ctx.config.quotas, zone(ctx.config.bot.timezone))
    statuses = await book.statuses((room,))
    return web.json_response({"room": room, "quotas": [quota_json(s) for s in statuses]})


async def events(request: web.Request) -> web.Response:
    """Validated, checked against the key's rooms and priced whole before anything is stored."""
    ctx: ServerContext = request.app[SERVER]
    key = request[REQUEST_KEY]
    if not key.ingest:
        raise Forbidden("this key may not send events (ingest: false)")
    body = await request.read()  # over client_max_size: 413, from the error middleware

    def prepare() -> list[tuple]:  # off the event loop: a large body must not hold up other requests
        parsed = parse_events(body)
        for index, event in enumerate(parsed):
            if not may_see(key, event.room_id):
                where = event.room_id if event.room_id is not None else "(no room_id)"
                raise Forbidden(f"events[{index}].room_id: {where} is outside this key's rooms")
        return price_events(parsed, ctx.pricer, key.name)

    try:
        rows = await asyncio.to_thread(prepare)
    except BodyError as exc:
        return error(400, str(exc), **({"index": exc.index} if exc.index is not None else {}))
    result = await store_rows(ctx.store, rows)
    log.info("key %s sent %d events: %d stored, %d duplicates, %d rejected", key.name, len(rows), result.stored,
             result.duplicates, len(result.rejected))  # fmt: skip
    return web.json_response(result.as_json())


async def metrics(request: web.Request) -> web.Response:
    ctx: ServerContext = request.app[SERVER]
    body, content_type = await metrics_text(ctx.store, ctx.config.http.metrics.labels)
    return web.Response(body=body, headers={"Content-Type": content_type})


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(openapi())


ROUTES = (
    ("GET", "/healthz", healthz),
    ("GET", "/v1/usage", usage),
    ("GET", "/v1/quotas", quotas),
    ("POST", "/v1/events", events),
    ("GET", "/metrics", metrics),
    *ADVICE_ROUTES,
    ("GET", "/openapi.json", openapi_json),
)
