"""The OpenAPI 3.1 description served at `/openapi.json`. Event and row schemas derive from the event
model and the report's columns, so a counter added to the field table appears here too."""

from __future__ import annotations

from functools import cache
from typing import Any

from matrix_usage_bot.tracking.events import UsageEvent
from matrix_usage_bot.tracking.periods import PERIOD_HELP
from matrix_usage_bot.tracking.queries import GROUPS
from matrix_usage_bot.tracking.quotas.wire import RESERVATION_ID

from ..render.report_formats import ROW_FIELDS
from .advice_openapi import advice_paths
from .reservations import ReservationRequest

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    words = {400: "a bad parameter or body, named in `error`", 401: "no key, or an unknown one",
             403: "a room outside the key's rooms, a write or reservation by a key without ingest, or /metrics "
                  "by a key without rooms: all",
             413: "a body over http.max_body_bytes"}  # fmt: skip
    return {str(code): _json(_ERROR, words[code]) for code in codes}


def _query(name: str, description: str, schema: dict[str, Any] | None = None, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or {"type": "string"}}  # fmt: skip


def _row() -> dict[str, Any]:
    props: dict[str, Any] = {name: {"type": "integer", "minimum": 0} for name in ROW_FIELDS}
    props["key"] = {"type": ["string", "null"]}
    props["cost_usd"] = {"type": "number", "minimum": 0, "description": "the priced calls' cost"}
    return {"type": "object", "properties": props, "required": list(ROW_FIELDS)}


def _event() -> dict[str, Any]:
    schema = UsageEvent.model_json_schema(ref_template="#/components/schemas/{model}")
    schema["properties"]["total_tokens"] = {"type": "integer", "description": "ignored: input + output"}
    schema["properties"]["reservation"] = {"type": "string", "pattern": f"^{RESERVATION_ID.pattern}$", "description":
                                           "the reservation (POST /v1/reservations, this key's) the call held: "
                                           "ended with the event"}  # fmt: skip
    schema.pop("title", None)
    return schema


def _quota_status() -> dict[str, Any]:
    """`tracking.quotas.wire.status_json`: what `tracking.QuotaExceeded` carries, amounts exact."""
    amount = {"type": "string", "description": "a decimal in the quota's unit: tokens, or US dollars"}
    text, maybe = {"type": "string"}, {"type": ["string", "null"]}
    count = {"type": "integer", "minimum": 0, "description": "calls in the window"}
    return {"type": "object", "properties": {
        "scope": {"enum": ["room", "agent", "user", "global"]}, "name": maybe,
        "window": {"enum": ["hourly", "daily", "monthly"]}, "unit": {"enum": ["tokens", "usd"]},
        "limit": amount, "used": amount, "reserved": {**amount, "description": "held by calls under way"},
        "requested": {**amount, "description": "what the refused call would have held (0 on checks)"},
        "calls": count, "unpriced_calls": {**count, "description": "calls no price knows (a dollar quota counts the"
                                                                   " priced ones only)"},
        "hard": {"type": "boolean"}, "everywhere": {"type": "boolean"}, "source": text, "plan": maybe,
        "room_id": maybe, "resets": {"type": "string", "format": "date-time"}, "description": text,
        "period": {"type": "object", "properties": {name: {} for name in (
            "label", "first_day", "end_day", "tz", "bounds_ms", "start", "end")}}}}  # fmt: skip


def _quota_paths() -> dict[str, Any]:
    status = {"$ref": "#/components/schemas/QuotaStatus"}
    either = {"oneOf": [status, {"type": "null"}]}
    request = ReservationRequest.model_json_schema()
    request.pop("title", None)
    held = {"type": "object", "properties": {"reservation": {"type": ["string", "null"]},
                                             "expires": {"type": ["string", "null"], "format": "date-time"}}}
    refused = {"type": "object", "required": ["error", "refused"], "properties": {"error": {"type": "string"},
                                                                                 "refused": status}}
    return {
        "/v1/quotas/check": {"get": {
            "summary": "the quotas a call with this attribution counts against: the tightest, and the hard one "
                       "used up (what an HTTP tracker's check_quota and enforce_quota answer)",
            "parameters": [_query("room", "the call's room (required unless the key has rooms: all)"),
                           _query("agent", "the call's agent"), _query("user", "the call's user id")],
            "responses": {"200": _json({"type": "object", "properties": {"tightest": either, "exhausted": either}},
                                       "the statuses, null for none"), **_errors(400, 401, 403)}}},
        "/v1/reservations": {"post": {
            "summary": "hold a call's estimated use against the hard quotas it counts against, or refuse it; "
                       "ended by the event that names it, by DELETE, or when it expires (keys with ingest)",
            "requestBody": {"required": True, "content": {"application/json": {"schema": request}}},
            "responses": {"200": _json(held, "held (reservation null: no hard quota applies)"),
                          "429": _json(refused, "refused: the quota with no room left (Retry-After: when it "
                                                "resets)"), **_errors(400, 401, 403, 413)}}},
        "/v1/reservations/{id}": {"delete": {
            "summary": "end a reservation of this key's (another key's is left alone)",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"204": {"description": "ended, or not this key's to end"}, **_errors(401, 403)}}},
    }  # fmt: skip


@cache
def openapi() -> dict[str, Any]:
    usage_params = [
        _query("period", f"one of: {PERIOD_HELP} (default: month)"),
        _query("by", "break down by", {"type": "string", "enum": list(GROUPS)}),
        _query("room", "a room id of the key's; without it, every room of the key"),
        _query("agent", "only this agent"),
        _query("user", "only this user id"),
        _query("tz", "IANA timezone of calendar periods (default: bot.timezone)"),
    ]
    report = {"type": "object", "required": ["period", "totals", "rows"], "properties": {
        "period": {"type": "object", "properties": {"start": {"type": "string", "format": "date-time"},
                                                    "end": {"type": "string", "format": "date-time"}}},
        "totals": {"$ref": "#/components/schemas/Row"},
        "rows": {"type": "array", "items": {"$ref": "#/components/schemas/Row"}}}}  # fmt: skip
    event_ref = {"$ref": "#/components/schemas/Event"}
    events_body = {"oneOf": [event_ref, {"type": "array", "minItems": 1, "items": event_ref}]}
    result = {"type": "object", "required": ["stored", "duplicates", "rejected"], "properties": {
        "stored": {"type": "integer"}, "duplicates": {"type": "integer"},
        "rejected": {"type": "array", "items": {"type": "object", "properties": {
            "index": {"type": "integer"}, "error": {"type": "string"}}}}}}  # fmt: skip
    quotas = {"type": "object", "properties": {"room": {"type": "string"}, "quotas": {"type": "array", "items": {
        "type": "object", "properties": {name: {} for name in (
            "scope", "name", "window", "unit", "everywhere", "hard", "source", "plan", "limit", "used", "percent",
            "description", "period", "resets")}}}}}  # fmt: skip
    text = {"text/plain": {"schema": {"type": "string"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "matrix-usage-bot HTTP API", "version": "1",
                 "description": "LLM usage and cost per Matrix room. Every path but /healthz "
                                "needs Authorization: Bearer KEY; the key's rooms bound every answer."},
        "security": [{"bearer": []}],
        "paths": {
            "/healthz": {"get": {"security": [], "summary": "whether the store answers", "responses": {
                "200": _json({"type": "object", "properties": {"status": {"const": "ok"}}}, "the store answers"),
                "503": _json({"type": "object"}, "the store does not answer")}}},
            "/v1/usage": {"get": {"summary": "the JSON of usage-bot report --format json", "parameters": usage_params,
                                  "responses": {"200": _json(report, "the report"), **_errors(400, 401, 403)}}},
            "/v1/quotas": {"get": {"summary": "a room's quotas and their use",
                                   "parameters": [_query("room", "the room id", required=True)],
                                   "responses": {"200": _json(quotas, "the quotas"), **_errors(400, 401, 403)}}},
            "/v1/events": {"post": {
                "summary": "store events: one, a JSON array, or JSON lines; all refused if one is invalid",
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": events_body},
                    "application/x-ndjson": {"schema": {"type": "string"}}}},
                "responses": {"200": _json(result, "stored, duplicates (by event_id) and rows the database refused"),
                              **_errors(400, 401, 403, 413)}}},
            **_quota_paths(),
            **advice_paths(),
            "/metrics": {"get": {"summary": "Prometheus text format", "responses": {
                "200": {"description": "the metrics", "content": text}, **_errors(401, 403)}}},
            "/openapi.json": {"get": {"summary": "this description", "responses": {
                "200": _json({"type": "object"}, "OpenAPI 3.1"), **_errors(401)}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Row": _row(), "Event": _event(), "QuotaStatus": _quota_status(),
                        "Error": {"type": "object", "required": ["error"], "properties": {
                            "error": {"type": "string"},
                            "index": {"type": "integer", "description": "the event refused (400, 403)"},
                            "rejected": {"type": "array", "description": "403: every event for a room outside "
                                         "the key's", "items": {"type": "object", "properties": {
                                             "index": {"type": "integer"}, "error": {"type": "string"}}}}}}},
        },
    }  # fmt: skip
