"""`GET /v1/whatif` and `GET /v1/savings`: the advice of `!usage whatif` and `!usage savings` as JSON.

Under the rules of every endpoint: the key's rooms bound the answer (`room` outside them is 403), a bad
parameter is 400 naming it. Dollars are numbers (`*_usd`, as in `/v1/usage`) and exact integers of
pico-dollars (`*_pusd`); a group whose calls are all unpriced has `unpriced_calls == calls`, never a $0 read
as a price.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from matrix_usage_bot.tracking.advice import CachingRow, Savings, WhatIf, WhatIfRow, savings, whatif
from matrix_usage_bot.tracking.periods import Period, parse_period, zone
from matrix_usage_bot.tracking.pricing import pico_to_usd
from matrix_usage_bot.tracking.validation import MATRIX_ID

from .auth import REQUEST_KEY, room_scope
from .context import SERVER, ServerContext


class ParamError(ValueError):
    """A bad parameter: answered 400 with the message, which names it."""


def _params(request: web.Request, allowed: frozenset[str]) -> dict[str, str]:
    for name in request.query:
        if name not in allowed:
            raise ParamError(f"{name}: unknown parameter; use {', '.join(sorted(allowed))}")
        if len(request.query.getall(name)) > 1:
            raise ParamError(f"{name}: given more than once")
    return dict(request.query)


def _money(row: dict[str, Any], name: str, pico: int) -> None:
    row[f"{name}_usd"], row[f"{name}_pusd"] = float(pico_to_usd(pico)), pico


def _period(params: dict[str, str], ctx: ServerContext) -> Period:
    try:
        return parse_period(params.get("period") or "month", zone(ctx.config.bot.timezone))
    except ValueError as exc:
        raise ParamError(f"period: {exc}") from exc


def _room(request: web.Request, params: dict[str, str]) -> str:
    room = params.get("room")
    if not room:
        raise ParamError("room: required (the room whose calls to price)")
    room_scope(request[REQUEST_KEY], room)
    return room


def _span(period: Period) -> dict[str, str]:
    return {"start": period.start.isoformat(), "end": period.end.isoformat()}


def whatif_row(row: WhatIfRow) -> dict[str, Any]:
    out: dict[str, Any] = {"agent": row.agent, "calls": row.calls, "unpriced_calls": row.unpriced_calls,
                           "whatif_unpriced_calls": row.whatif_unpriced_calls}  # fmt: skip
    _money(out, "cost", row.cost_pusd)
    _money(out, "whatif_cost", row.whatif_pusd)
    return out


def whatif_json(room: str, result: WhatIf) -> dict[str, Any]:
    return {"room": room, "period": _span(result.period), "model": result.target.name, "known": result.target.known,
            "summed_calls": result.summed_calls, "totals": whatif_row(result.totals),
            "rows": [whatif_row(r) for r in result.rows]}  # fmt: skip


def savings_row(row: CachingRow) -> dict[str, Any]:
    out: dict[str, Any] = {"agent": row.agent, "model": row.model, "calls": row.calls,
                           "input_tokens": row.input_tokens, "cache_read_tokens": row.cache_read_tokens,
                           "cache_write_tokens": row.cache_write_tokens, "unpriced_calls": row.unpriced_calls,
                           "hit_rate": None if row.hit_rate is None else float(row.hit_rate)}  # fmt: skip
    _money(out, "cost", row.cost_pusd)
    _money(out, "saved", row.saved_pusd)
    return out


def savings_json(room: str, result: Savings) -> dict[str, Any]:
    return {"room": room, "period": _span(result.period), "summed_calls": result.summed_calls,
            "totals": savings_row(result.totals), "rows": [savings_row(r) for r in result.rows]}  # fmt: skip


Answer = Callable[[web.Request, ServerContext, dict[str, str]], Awaitable[dict[str, Any]]]


def endpoint(answer: Answer, params: frozenset[str]) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A GET endpoint answering JSON; a bad parameter is 400 naming it (a room outside the key, 403)."""

    async def handle(request: web.Request) -> web.Response:
        try:
            return web.json_response(await answer(request, request.app[SERVER], _params(request, params)))
        except ParamError as exc:
            return web.json_response({"error": str(exc)}, status=400)

    return handle


async def _whatif(request: web.Request, ctx: ServerContext, params: dict[str, str]) -> dict[str, Any]:
    room = _room(request, params)
    model = params.get("model", "").strip()
    if not model or len(model) > MATRIX_ID:
        raise ParamError(f"model: required, a model or provider/model (at most {MATRIX_ID} characters)")
    return whatif_json(room, await whatif(ctx.store, ctx.pricer, _period(params, ctx), (room,), model))


async def _savings(request: web.Request, ctx: ServerContext, params: dict[str, str]) -> dict[str, Any]:
    room = _room(request, params)
    return savings_json(room, await savings(ctx.store, ctx.pricer, _period(params, ctx), (room,)))


ADVICE_ROUTES = (
    ("GET", "/v1/whatif", endpoint(_whatif, frozenset({"room", "model", "period"}))),
    ("GET", "/v1/savings", endpoint(_savings, frozenset({"room", "period"}))),
)

