"""The OpenAPI 3.1 description served at `/openapi.json`. Event and row schemas derive from the event
model and the report's columns, so a counter added to the field table appears here too."""

from __future__ import annotations

from functools import cache
from typing import Any

from tracking.events import UsageEvent
from tracking.periods import PERIOD_HELP
from tracking.queries import GROUPS

from ..render.report_formats import ROW_FIELDS
from .advice_openapi import advice_paths

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    words = {400: "a bad parameter or body, named in `error`", 401: "no key, or an unknown one",
             403: "a room outside the key's rooms, or a write by a key without ingest",
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
    schema.pop("title", None)
    return schema


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
                 "description": "LLM usage and cost per Matrix room (SPEC section 9). Every path but /healthz "
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
            **advice_paths(),
            "/metrics": {"get": {"summary": "Prometheus text format", "responses": {
                "200": {"description": "the metrics", "content": text}, **_errors(401)}}},
            "/openapi.json": {"get": {"summary": "this description", "responses": {
                "200": _json({"type": "object"}, "OpenAPI 3.1"), **_errors(401)}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Row": _row(), "Event": _event(),
                        "Error": {"type": "object", "required": ["error"], "properties": {
                            "error": {"type": "string"}, "index": {"type": "integer"}}}},
        },
    }  # fmt: skip
