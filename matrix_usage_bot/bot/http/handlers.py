"""The endpoints of README: HTTP API. Each answers JSON; errors are `{"error": "..."}` naming the field."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from matrix_usage_bot.tracking.collect import BodyError, parse_events, price_events, store_rows
from matrix_usage_bot.tracking.periods import parse_period, zone
from matrix_usage_bot.tracking.queries import GROUPS, usage_report
from matrix_usage_bot.tracking.quotas.book import tightest, used_up
from matrix_usage_bot.tracking.quotas.wire import status_json

from ..notify.payloads import quota_json
from ..render.report_formats import report_json
from . import reservations
from .advice import ADVICE_ROUTES
from .auth import REQUEST_KEY, Forbidden, may_see, room_scope, within
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
    statuses = await ctx.quota_book().statuses((room,))
    return web.json_response({"room": room, "quotas": [quota_json(s) for s in statuses]})


async def quota_check(request: web.Request) -> web.Response:
    """What a call with this attribution counts against: the tightest quota (an HTTP tracker's `check_quota`)
    and the hard quota used up, if one is (what its `enforce_quota` refuses with), exactly (`quotas.wire`)."""
    ctx: ServerContext = request.app[SERVER]
    query = _params(request, frozenset({"room", "agent", "user"}))
    room = query.get("room") or None
    within(request[REQUEST_KEY], room, "room")
    statuses = await ctx.quota_book().applying(room, query.get("agent") or None, query.get("user") or None)
    found = {"tightest": tightest(statuses), "exhausted": used_up(statuses)}
    return web.json_response({name: status_json(s) if s is not None else None for name, s in found.items()})


class OutsideRooms(Exception):
    """Events for rooms outside the key's: answered 403 naming each (`index`: the first, `rejected`: all)."""

    def __init__(self, refused: list[dict[str, Any]]) -> None:
        super().__init__(refused[0]["error"])
        self.refused = refused


async def events(request: web.Request) -> web.Response:
    """Validated, checked against the key's rooms and priced whole before anything is stored."""
    ctx: ServerContext = request.app[SERVER]
    key = request[REQUEST_KEY]
    if not key.ingest:
        raise Forbidden("this key may not send events (ingest: false)")
    body = await request.read()  # over client_max_size: 413, from the error middleware
    held: dict[int, str] = {}  # event index to the reservation (of this key's) it ends

    def prepare() -> list[tuple]:  # off the event loop: a large body must not hold up other requests
        parsed = parse_events(body, held)
        outside = [{"index": index, "error": f"events[{index}].room_id: {event['room_id'] or '(no room_id)'} is "
                                             "outside this key's rooms"}
                   for index, event in enumerate(parsed) if not may_see(key, event["room_id"])]  # fmt: skip
        if outside:
            raise OutsideRooms(outside)
        return price_events(parsed, ctx.pricer, key.name)

    try:
        rows = await asyncio.to_thread(prepare)
    except BodyError as exc:
        return error(400, str(exc), **({"index": exc.index} if exc.index is not None else {}))
    except OutsideRooms as exc:
        return error(403, str(exc), index=exc.refused[0]["index"], rejected=exc.refused)
    result = await store_rows(ctx.store, rows, [reservations.owned(key, held[i]) for i in sorted(held)])
    log.info("key %s sent %d events: %d stored, %d duplicates, %d rejected", key.name, len(rows), result.stored,
             result.duplicates, len(result.rejected))  # fmt: skip
    return web.json_response(result.as_json())


async def metrics(request: web.Request) -> web.Response:
    """Counters of every room: for keys with `rooms: all` only."""
    ctx: ServerContext = request.app[SERVER]
    if request[REQUEST_KEY].rooms != "all":
        raise Forbidden("/metrics counts every room: it needs a key with rooms: all")
    body, content_type = await metrics_text(ctx.store, ctx.config.http.metrics.labels)
    return web.Response(body=body, headers={"Content-Type": content_type})


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(openapi())


ROUTES = (
    ("GET", "/healthz", healthz),
    ("GET", "/v1/usage", usage),
    ("GET", "/v1/quotas", quotas),
    ("GET", "/v1/quotas/check", quota_check),
    ("POST", "/v1/events", events),
    ("POST", "/v1/reservations", reservations.reserve),
    ("DELETE", "/v1/reservations/{id}", reservations.end),
    ("GET", "/metrics", metrics),
    *ADVICE_ROUTES,
    ("GET", "/openapi.json", openapi_json),
)
