"""The dashboard on the bot's HTTP server: the page, its script and style, and two endpoints.

The page and its files are static and need no token. The endpoints need the token of a link in
the `X-Dashboard-Token` header (the page reads it from the URL's fragment, which browsers never
send to a server, so no server or proxy logs it and no Referer carries it); the room comes from
the token alone: no endpoint takes a room, and an unknown parameter is refused. A changed,
expired or revoked token gets a short refusal (401 or 403) and nothing else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files

from aiohttp import web

from matrix_usage_bot.tracking.advice import Alternatives
from matrix_usage_bot.tracking.periods import Period, PeriodError, zone
from matrix_usage_bot.tracking.store import Filters

from ..http.context import SERVER, ServerContext
from ..render.export import ExportTooLarge, events_csv, export_filename
from ..state import BotState
from .tokens import DashboardTokens, Grant, TokenRefused
from .view import CHART_DIMENSIONS, PERIOD_CHOICES, ViewRequest, dashboard_period, dashboard_view

TOKEN_HEADER = "X-Dashboard-Token"
PAGE, SCRIPT, STYLE = "/dashboard/", "/dashboard/app.js", "/dashboard/app.css"
VIEW, EXPORT = "/dashboard/api/view", "/dashboard/api/export.csv"
PATHS = frozenset({"/dashboard", PAGE, SCRIPT, STYLE, VIEW, EXPORT})
"""Paths the HTTP API's key check leaves to the dashboard (its own token check)."""
TOKENS = web.AppKey("dashboard_tokens", DashboardTokens)

PRIVATE = {"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; base-uri 'none'; form-action 'none'")  # fmt: skip
DEFAULT_WIDTH = 960


class BadParameter(Exception):
    """Answered 400 with the message, which never repeats what was given."""


@cache
def _asset(name: str) -> bytes:
    return (files(__package__) / "static" / name).read_bytes()


def _static(name: str, content_type: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def serve(request: web.Request) -> web.Response:
        headers = {**PRIVATE, "Cache-Control": "no-cache"}
        if content_type == "text/html":
            headers["Content-Security-Policy"] = PAGE_POLICY
        return web.Response(body=_asset(name), content_type=content_type, charset="utf-8", headers=headers)

    return serve


async def to_page(request: web.Request) -> web.Response:
    """`/dashboard` to `/dashboard/` (relative, so a proxy's path prefix stays; the fragment stays too)."""
    return web.Response(status=302, headers={**PRIVATE, "Location": "dashboard/"})


def _refusal(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=PRIVATE)


def _query(request: web.Request, allowed: frozenset[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in request.query.items():
        if name not in allowed or name in params:
            raise BadParameter(f"unknown or repeated parameter; this endpoint takes {', '.join(sorted(allowed))}")
        params[name] = value
    return params


async def _rooms(ctx: ServerContext, grant: Grant) -> tuple[str, ...]:
    """The token's room and the rooms it replaced (room upgrades), as the chat counts them."""
    return (grant.room_id, *(await BotState.load(ctx.store)).predecessors(grant.room_id))


def _period(ctx: ServerContext, params: dict[str, str], now: datetime) -> Period:
    try:
        return dashboard_period(params.get("period") or "month", zone(ctx.config.bot.timezone), now)
    except PeriodError:
        raise BadParameter(f"period: use one of {PERIOD_CHOICES}") from None


Endpoint = Callable[[web.Request, ServerContext, tuple[str, ...]], Awaitable[web.Response]]


def _with_token(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Checks the token first; the endpoint then sees only the token's room (and its predecessors)."""

    async def handler(request: web.Request) -> web.Response:
        ctx = request.app[SERVER]
        try:
            grant = await request.app[TOKENS].verify(request.headers.get(TOKEN_HEADER))
            return await endpoint(request, ctx, await _rooms(ctx, grant))
        except TokenRefused as exc:
            return _refusal(exc.status, str(exc))
        except BadParameter as exc:
            return _refusal(400, str(exc))

    return handler


async def view(request: web.Request, ctx: ServerContext, rooms: tuple[str, ...]) -> web.Response:
    params = _query(request, frozenset({"period", "by", "width"}))
    now = datetime.now(UTC)
    period = _period(ctx, params, now)
    by = params.get("by") or "agent"
    if by not in CHART_DIMENSIONS:
        raise BadParameter(f"by: use one of {', '.join(CHART_DIMENSIONS)}")
    width = params.get("width") or str(DEFAULT_WIDTH)
    if not (width.isdigit() and len(width) <= 5):
        raise BadParameter("width: a number of pixels")
    request_ = ViewRequest(ctx.store, ctx.config.quotas, zone(ctx.config.bot.timezone), rooms, now, ctx.pricer,
                           Alternatives(ctx.config.advice.alternatives))  # fmt: skip
    body = await dashboard_view(request_, period, by, int(width))
    return web.json_response(body, headers=PRIVATE)


async def export(request: web.Request, ctx: ServerContext, rooms: tuple[str, ...]) -> web.Response:
    """The same CSV as `!usage export` for the period."""
    period = _period(ctx, _query(request, frozenset({"period"})), datetime.now(UTC))
    try:
        result = await events_csv(ctx.store.iter_events(period.start_ms, period.end_ms, Filters(room_id=rooms)),
                                  period.tz)  # fmt: skip
    except ExportTooLarge:
        return _refusal(413, "the export of this period is too large: pick a shorter one")
    disposition = f'attachment; filename="{export_filename(period)}"'
    return web.Response(body=result.data, content_type="text/csv", charset="utf-8",
                        headers={**PRIVATE, "Content-Disposition": disposition})  # fmt: skip


def add_dashboard(app: web.Application) -> None:
    """The dashboard's routes on the HTTP API's app (after its SERVER context is set)."""
    app[TOKENS] = DashboardTokens(app[SERVER].store)
    app.router.add_get("/dashboard", to_page)
    app.router.add_get(PAGE, _static("index.html", "text/html"))
    app.router.add_get(SCRIPT, _static("app.js", "text/javascript"))
    app.router.add_get(STYLE, _static("app.css", "text/css"))
    app.router.add_get(VIEW, _with_token(view))
    app.router.add_get(EXPORT, _with_token(export))
