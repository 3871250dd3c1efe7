"""Passive collection of the usage MindRoom publishes in its Matrix messages (`io.mindroom.ai_run`).

Facts taken from MindRoom's source (mindroom-ai/mindroom): `ai_run_metadata.build_ai_run_metadata_content`
puts `{"version": 1, "run_id", "session_id", "status", "model": {"config", "id", "provider"}, "usage": ...}`
under `io.mindroom.ai_run` (`constants.AI_RUN_METADATA_KEY`); `usage` is Agno's `RunMetrics.to_dict()` (or,
for a streamed run, the sum of Agno's per-request metrics) with floats sent as strings and nested objects
dropped. `model.provider` is Agno's `Model.provider` ("Anthropic", "Google", "VertexAI", "AwsBedrock",
"OpenAI", ...) or MindRoom's configured provider ("anthropic", "gemini", "vertexai_claude", ...).

Usage conversion (docs/conversions.md): these are Agno's metrics, so they are converted as the Agno hook
converts them (`tracking.hooks.agno_usage.metrics_counts`): the Anthropic family (MindRoom's own rule in
`model_usage.py`) gets its cache reads and writes added to input, Gemini its thinking tokens added to
output; OpenAI-style providers already follow docs/events.md. A team's reply carries its members' usage
aggregated, so one message is one event.

Agent name: MindRoom agents are Matrix users `@mindroom_<name>[_<namespace>]:<domain>`
(`matrix.identity.agent_username_localpart`); the agent is `<name>`, the localpart without the `mindroom_`
prefix (and without the installation namespace suffix when given). Other senders keep their full localpart.

A reply whose metadata has no usage (MindRoom leaves `usage` out when Agno reported none) or no token
counts in it is estimated (`tracking.estimate`): output from the message's `body` (for a long reply sent as
a preview plus a file, the preview), input 0, since the metadata carries neither the request's text nor
a count of it (`prepared_context.tokens`, when present, is MindRoom's own count of the prepared history only).
It is stored with `usage_source = "estimated"`. A failed run without usage is not recorded.

Edits (`m.replace`) carry the final usage of a streamed reply under `m.new_content`; deciding which
version to count belongs to the bot, which passes the original event id here.

`fields_from_matrix` reads a reply into the fields of `Tracker.record` without judging them, so the bot's
passive collection records whatever it read and the writer refuses a bad value as it refuses any, keeping
the event in `rejected_events` with the reason; `event_from_matrix` is the same as a validated `UsageEvent`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ._common import ESTIMATED, checked, event_fields
from ._estimated import estimated_counts
from .agno_usage import family, metrics_counts

AI_RUN_KEY = "io.mindroom.ai_run"
AGENT_PREFIX = "mindroom_"
_PROVIDERS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "google",
    "google": "google",
    "vertexai": "google",
    "vertexai_claude": "google",
    "bedrock": "aws",
    "bedrock_claude": "aws",
    "awsbedrock": "aws",
    "openrouter": "openrouter",
    "cerebras": "cerebras",
    "groq": "groq",
    "deepseek": "deepseek",
    "ollama": "ollama",
    "together": "together",
    "mistral": "mistral",
    "xai": "x-ai",
}


def agent_from_sender(sender: str, namespace: str | None = None) -> str | None:
    if not sender.startswith("@"):
        return None
    localpart = sender[1:].split(":", 1)[0]
    if not localpart.startswith(AGENT_PREFIX):
        return localpart or None
    name = localpart[len(AGENT_PREFIX) :]
    if namespace and name.endswith(f"_{namespace}"):
        name = name[: -len(namespace) - 1]
    return name or None


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def event_from_matrix(room_id: str, event_id: str, sender: str, content: dict[str, Any],
                      origin_server_ts: int | float | None = None, *, namespace: str | None = None) -> Any:  # fmt: skip
    """A `tracking.UsageEvent` for a MindRoom reply (event_id = the Matrix event id), or None without usage.

    Usage whose parts do not fit its totals is logged once and passed on as reported (not clamped), and
    stored so. A value no event may hold raises ValueError naming it, as `UsageEvent` does.
    """
    from ..events import UsageEvent

    fields = fields_from_matrix(room_id, event_id, sender, content, origin_server_ts, namespace=namespace)
    return None if fields is None else UsageEvent(**fields)


def fields_from_matrix(room_id: str, event_id: str, sender: str, content: dict[str, Any],
                       origin_server_ts: int | float | None = None, *,
                       namespace: str | None = None) -> dict[str, Any] | None:  # fmt: skip
    """The fields of `Tracker.record` for a MindRoom reply, as read and not yet validated; None without usage."""
    run = content.get(AI_RUN_KEY) if isinstance(content, dict) else None
    if not isinstance(run, dict):
        return None
    usage, model = run.get("usage"), run.get("model")
    if not isinstance(model, dict):
        return None
    if not isinstance(usage, dict):
        usage = {}
    model_id = model.get("id") or model.get("config")
    raw_provider = str(model.get("provider") or "").strip()
    if not isinstance(model_id, str) or not model_id or not raw_provider:
        return None
    key = raw_provider.lower().replace("-", "_")
    provider = _PROVIDERS.get(key, key)
    counts = checked(metrics_counts(usage, family(raw_provider, model_id)), "mindroom", provider, model_id)
    failed = str(run.get("status", "")).lower() in ("error", "failed")
    source = None
    if not (counts.input_tokens or counts.output_tokens):
        body = content.get("body")
        if failed or not isinstance(body, str) or not body:
            return None
        counts, source = estimated_counts({}, body, provider, model_id, with_input=False), ESTIMATED
    relates = content.get("m.relates_to")
    thread_id = None
    if isinstance(relates, dict) and relates.get("rel_type") == "m.thread":
        thread_id = relates.get("event_id")
    duration = _float(usage.get("duration"))
    metadata = {key: run[key] for key in ("run_id", "status") if isinstance(run.get(key), str)}
    metadata["source"] = "mindroom"
    fields: dict[str, Any] = {
        "event_id": event_id,
        "provider": provider,
        "model": model_id,
        "room_id": room_id,
        "thread_id": thread_id,
        "agent": agent_from_sender(sender, namespace),
        "session_id": run.get("session_id") if isinstance(run.get("session_id"), str) else None,
        "operation": "chat",
        "latency_ms": duration * 1000.0 if duration is not None else None,
        "status": "error" if failed else "ok",
        "metadata": metadata,
    }
    if origin_server_ts is not None:
        fields["ts"] = _instant(origin_server_ts)
    return fields | event_fields(counts, source)  # a misfit is kept as reported


def _instant(origin_server_ts: int | float) -> datetime | float:
    """The server's timestamp (ms) as a UTC datetime; one no datetime can hold stays seconds, for the
    validation to refuse with its reason."""
    try:
        return datetime.fromtimestamp(origin_server_ts / 1000, UTC)
    except (OverflowError, ValueError, OSError):
        return origin_server_ts / 1000
