"""Agno hook: `instrument_agno(agent_or_team, tracker)` records every model call of an Agent or a Team.

Every provider request of an Agno model goes through its `invoke` / `ainvoke` / `invoke_stream` /
`ainvoke_stream` methods, which return Agno's per-request usage. The hook gives each model of the agent
(and, for a team, of the leader and of every member, nested teams included) a subclass of its own class
that records those calls, each attributed to the agent or team whose run made it (`run_response.agent_name`
/ `team_name`). A team's `run` / `arun` instruments its members again before each run, so members added
later are covered; copies that Agno makes of a model or an agent keep the subclass, so they are covered too.

Usage conversion (docs/conversions.md): Agno hands each model's own counts over in one `Metrics` shape,
but what they mean depends on the model's family. Anthropic-family models (Claude, Claude on Vertex, AWS
Bedrock) report `input_tokens` without cache reads and writes: they are added back. Gemini (Google AI
and Vertex) reports `output_tokens` without the thinking tokens (Agno copies `candidates_token_count`
and puts `thoughts_token_count` in `reasoning_tokens`): they are added to output. Every other model
(OpenAI, Groq, LiteLLM, OpenRouter, ...) already follows docs/events.md. What Agno's metrics leave out
(Claude's 1-hour cache writes, thinking tokens and web searches; Gemini's audio and image tokens, tool-use
prompt tokens and grounding searches) is read from the raw response Agno parsed (`_parse_provider_response*`,
`tracking.hooks.agno_raw`). MindRoom publishes these same metrics, so its collector converts
them with the same functions (`tracking.hooks.agno_usage`). A request whose responses carry no usage
(`ModelResponse.response_usage` None) is estimated (`tracking.estimate`) from the messages and tools Agno
sent and the reply's text, and stored with `usage_source = "estimated"`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ..context import attribute
from ._common import ESTIMATED, ZERO, Counts, enforcing, error_metadata, record, reserve_sync, warm_up
from ._estimated import calls_text, estimated_counts, role_messages
from .agno_raw import extra_counts
from .agno_usage import ANTHROPIC, GEMINI, OPENAI, family, metrics_counts, model_family, model_provider

_RAW_EXTRA = "_usage_raw_extra"
_MODEL_ATTRS = ("model", "reasoning_model", "parser_model", "output_model")
_classes: dict[tuple[type, int, str | None], type] = {}


def _owner(kwargs: dict[str, Any]) -> str | None:
    run = kwargs.get("run_response")
    if run is None:
        return None
    return (getattr(run, "agent_name", None) or getattr(run, "team_name", None) or getattr(run, "agent_id", None)
            or getattr(run, "team_id", None))  # fmt: skip


class _Call:
    """One model request: usage summed over stream deltas, recorded once when the `with` block around it ends.

    A request whose responses carried no usage (`ModelResponse.response_usage` None on the reply and on every
    delta) is estimated from the messages Agno sent and the reply's text (`usage_source = "estimated"`).
    """

    __slots__ = ("agent", "counts", "done", "family", "held", "model", "provider", "request", "seen", "t0", "text",
                 "tracker")

    def __init__(self, model: Any, kwargs: dict[str, Any]) -> None:
        """Under enforcement, reserves the request's estimated use first: a refusal (tracking.QuotaExceeded)
        is raised from the model call before anything reaches the provider."""
        self.tracker = type(model)._usage_tracker
        self.provider = model_provider(model)
        self.model = getattr(model, "id", None)
        self.agent = _owner(kwargs)
        self.family = model_family(model)
        self.counts: Counts = ZERO
        self.seen = False
        self.done = False
        self.held = None
        self.request = kwargs
        self.text: list[str] = []
        if enforcing(type(model)._usage_enforce, self.tracker):
            request = {"messages": kwargs.get("messages"), "max_tokens": getattr(model, "max_tokens", None)}
            with attribute(agent=self.agent):
                self.held = reserve_sync(self.tracker, self.provider, self.model, request)
        self.t0 = time.perf_counter()

    def add(self, response: Any) -> None:
        """Count one ModelResponse (a whole reply, or a stream delta) that carries Agno's usage."""
        metrics = getattr(response, "response_usage", None)
        if metrics is None:
            content = getattr(response, "content", None)
            if isinstance(content, str):
                self.text.append(content)
            self.text.append(calls_text(getattr(response, "tool_calls", None)))
            return
        self.seen = True
        self.counts = self.counts.plus(metrics_counts(metrics, self.family)).plus(getattr(response, _RAW_EXTRA, ZERO))

    def __enter__(self) -> _Call:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        """A model error is recorded as such; a stream left early (closed, cancelled) as abandoned."""
        if exc is None:
            self.finish()
        elif isinstance(exc, Exception):
            self.finish(exc=exc)
        else:
            self.finish("abandoned")
        return False

    def finish(self, outcome: str = "completed", exc: BaseException | None = None) -> None:
        if self.done:
            return
        self.done = True
        status, metadata = "ok", None
        if exc is not None:
            status, metadata = "error", error_metadata(exc)
        elif outcome != "completed":
            metadata = {"stream": outcome}
        source = None
        if not self.seen and status == "ok":
            self.counts, source = self._estimate(), ESTIMATED
        record(self.tracker, self.provider, self.model, self.counts, (time.perf_counter() - self.t0) * 1000.0,
               runtime="agno", status=status, agent=self.agent, metadata=metadata, reservation=self.held,
               usage_source=source)  # fmt: skip

    def _estimate(self) -> Counts:
        """The request's messages (and tools) as sent, and the reply's text, estimated."""
        messages, tools = self.request.get("messages") or (), self.request.get("tools") or None
        return estimated_counts({"messages": role_messages(messages), "tools": tools}, "".join(self.text),
                                self.provider, self.model)  # fmt: skip


def _note_raw(model: Any, parsed: Any, raw: Any) -> Any:
    """Mark the parsed ModelResponse that carries usage with what its raw reply says beyond Agno's metrics."""
    model_response = parsed[0] if isinstance(parsed, tuple) else parsed
    if getattr(model_response, "response_usage", None) is not None:
        extra = extra_counts(raw, model_family(model), getattr(model, "id", None))
        if extra != ZERO:
            try:
                setattr(model_response, _RAW_EXTRA, extra)
            except (AttributeError, TypeError):
                pass
    return parsed


def _parse_provider_response(self: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
    return _note_raw(self, type(self)._usage_base._parse_provider_response(self, response, *args, **kwargs), response)


def _parse_provider_response_delta(self: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
    parsed = type(self)._usage_base._parse_provider_response_delta(self, response, *args, **kwargs)
    return _note_raw(self, parsed, response)


def _invoke(self: Any, *args: Any, **kwargs: Any) -> Any:
    with _Call(self, kwargs) as call:
        result = type(self)._usage_base.invoke(self, *args, **kwargs)
        call.add(result)
    return result


async def _ainvoke(self: Any, *args: Any, **kwargs: Any) -> Any:
    with _Call(self, kwargs) as call:
        result = await type(self)._usage_base.ainvoke(self, *args, **kwargs)
        call.add(result)
    return result


def _invoke_stream(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
    with _Call(self, kwargs) as call:
        for delta in type(self)._usage_base.invoke_stream(self, *args, **kwargs):
            call.add(delta)
            yield delta


async def _ainvoke_stream(self: Any, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
    with _Call(self, kwargs) as call:
        async for delta in type(self)._usage_base.ainvoke_stream(self, *args, **kwargs):
            call.add(delta)
            yield delta


def _run(self: Any, *args: Any, **kwargs: Any) -> Any:
    cls = type(self)
    _instrument_tree(self, cls._usage_tracker, cls._usage_provider, cls._usage_enforce)
    return cls._usage_base.run(self, *args, **kwargs)


def _arun(self: Any, *args: Any, **kwargs: Any) -> Any:
    cls = type(self)
    _instrument_tree(self, cls._usage_tracker, cls._usage_provider, cls._usage_enforce)
    return cls._usage_base.arun(self, *args, **kwargs)


# Methods of the recording subclasses. A plain subclass (no mixin) keeps the instance layout, so an
# existing object can take the new class.
_MODEL_METHODS = {"invoke": _invoke, "ainvoke": _ainvoke, "invoke_stream": _invoke_stream,
                  "ainvoke_stream": _ainvoke_stream, "_parse_provider_response": _parse_provider_response,
                  "_parse_provider_response_delta": _parse_provider_response_delta}  # fmt: skip
_RUNNER_METHODS = {"run": _run, "arun": _arun}


def _swap(obj: Any, methods: dict[str, Any], tracker: Any, provider: str | None, enforce: bool | None) -> None:
    cls = type(obj)
    base = getattr(cls, "_usage_base", cls)
    if (cls is not base and cls._usage_tracker is tracker and cls._usage_provider == provider
            and cls._usage_enforce == enforce):  # fmt: skip
        return
    key = (base, id(tracker), provider, enforce)
    tracked = _classes.get(key)  # type: ignore[call-overload]
    if tracked is None:
        attrs = {
            "_usage_base": base,
            "_usage_tracker": tracker,
            "_usage_provider": provider,
            "_usage_enforce": enforce,
            "__module__": base.__module__,
            "__qualname__": base.__qualname__,
            "__doc__": base.__doc__,
            **{name: method for name, method in methods.items() if hasattr(base, name)},
        }
        tracked = type(base.__name__, (base,), attrs)  # fmt: skip
        _classes[key] = tracked
    obj.__class__ = tracked


def _instrument_tree(obj: Any, tracker: Any, provider: str | None, enforce: bool | None) -> None:
    from agno.models.base import Model

    for attr in _MODEL_ATTRS:
        model = getattr(obj, attr, None)
        if isinstance(model, Model):
            _swap(model, _MODEL_METHODS, tracker, provider, enforce)
    members = getattr(obj, "members", None)
    if isinstance(members, list | tuple):
        for member in members:
            _instrument_tree(member, tracker, provider, enforce)
    if hasattr(obj, "run") and hasattr(obj, "arun"):
        _swap(obj, _RUNNER_METHODS, tracker, provider, enforce)


def instrument_agno(agent_or_team: Any, tracker: Any, enforce: bool | None = None, *,
                    provider: str | None = None) -> Any:  # fmt: skip
    """Record every model call of this Agno Agent or Team (leader and members, nested teams) on `tracker`.

    `provider` overrides the provider name of every model (for gateways and proxies). With enforcement
    (`enforce=True`, or the tracker's `quotas.enforce` when not given) every model call, members' too,
    first reserves against the hard quotas it counts against and raises tracking.QuotaExceeded instead
    of calling the provider when one has no room.
    """
    warm_up()
    _instrument_tree(agent_or_team, tracker, provider, enforce)
    return agent_or_team


__all__ = ["ANTHROPIC", "GEMINI", "OPENAI", "extra_counts", "family", "instrument_agno", "metrics_counts",
           "model_family", "model_provider"]  # fmt: skip
