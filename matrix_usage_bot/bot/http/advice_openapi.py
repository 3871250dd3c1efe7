"""The OpenAPI description of `GET /v1/whatif` and `GET /v1/savings` (`advice.py`), merged into `/openapi.json`.

Written out here rather than with `openapi.py`'s helpers: that module imports this one."""

from __future__ import annotations

from typing import Any


def _schema(names: dict[str, str]) -> dict[str, Any]:
    types = {"s": {"type": ["string", "null"]}, "i": {"type": "integer"}, "n": {"type": "number"},
             "r": {"type": ["number", "null"]}}  # fmt: skip
    return {"type": "object", "properties": {name: types[kind] for name, kind in names.items()}}


_MONEY = ("cost", "whatif_cost", "saved")


def _row_schema(*names: str) -> dict[str, Any]:
    kinds = {"agent": "s", "model": "s", "hit_rate": "r"}
    fields: dict[str, str] = {}
    for name in names:
        if name in _MONEY:
            fields |= {f"{name}_usd": "n", f"{name}_pusd": "i"}
        else:
            fields[name] = kinds.get(name, "i")
    return _schema(fields)


def advice_paths() -> dict[str, Any]:
    """The two endpoints of `advice.py`."""
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    errors = {"400": {"description": "a bad parameter, named in `error`", **error},
              "401": {"description": "no key, or an unknown one", **error},
              "403": {"description": "a room outside the key's rooms", **error}}  # fmt: skip

    def query(name: str, description: str, required: bool = False) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": required, "description": description,
                "schema": {"type": "string"}}  # fmt: skip

    def answer(row: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        schema = {"type": "object", "properties": {
            "room": {"type": "string"}, "period": {"type": "object"}, "summed_calls": {"type": "integer"}, **extra,
            "totals": row, "rows": {"type": "array", "items": row}}}  # fmt: skip
        return {"description": "the figures", "content": {"application/json": {"schema": schema}}}

    room, period = query("room", "the room id", True), query("period", "a period (default: month)")
    whatif_row_schema = _row_schema("agent", "calls", "unpriced_calls", "whatif_unpriced_calls", "cost", "whatif_cost")
    savings_row_schema = _row_schema("agent", "model", "calls", "input_tokens", "cache_read_tokens",
                                     "cache_write_tokens", "unpriced_calls", "hit_rate", "cost", "saved")  # fmt: skip
    return {
        "/v1/whatif": {"get": {
            "summary": "a room's calls priced on another model at each call's own time, by agent",
            "parameters": [room, query("model", "model or provider/model", True), period],
            "responses": {"200": answer(whatif_row_schema, {"model": {"type": "string"}, "known": {"type": "boolean"}}),
                          **errors}}},
        "/v1/savings": {"get": {
            "summary": "what prompt caching saved a room, and the cache hit rate, by agent and model",
            "parameters": [room, period], "responses": {"200": answer(savings_row_schema, {}), **errors}}},
    }  # fmt: skip
