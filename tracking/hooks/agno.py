"""Agno hook: `instrument_agno(agent_or_team, tracker)` records every model call of an Agent or a Team.

Every provider request of an Agno model goes through its `invoke` / `ainvoke` / `invoke_stream` /
`ainvoke_stream` methods, which return Agno's per-request usage. The hook gives each model of the agent
(and, for a team, of the leader and of every member, nested teams included) a subclass of its own class
that records those calls, each attributed to the agent or team whose run made it (`run_response.agent_name`
/ `team_name`). A team's `run` / `arun` instruments its members again before each run, so members added
later are covered; copies that Agno makes of a model or an agent keep the subclass, so they are covered too.

Usage normalisation: Agno reports Anthropic-family usage (Claude, AWS Bedrock, Claude on Vertex) with
`input_tokens` that exclude cache reads and writes; they are added back (SPEC section 2). Other providers'
`input_tokens` already include cached tokens.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ._common import ZERO, Counts, error_metadata, record, warm_up
from ._common import provider_from_base_url as _host_provider

_PROVIDERS = {
    "openai": "openai",
    "openai chat": "openai",
    "anthropic": "anthropic",
    "google": "google",
    "gemini": "google",
    "vertexai": "google",
    "awsbedrock": "aws",
    "aws": "aws",
    "bedrock": "aws",
    "azure": "azure",
    "azureopenai": "azure",
    "azureaifoundry": "azure",
    "xai": "x-ai",
    "mistral": "mistral",
    "groq": "groq",
    "cerebras": "cerebras",
    "together": "together",
    "deepseek": "deepseek",
    "openrouter": "openrouter",
    "ollama": "ollama",
    "fireworks": "fireworks",
}
_MODEL_ATTRS = ("model", "reasoning_model", "parser_model", "output_model")
_classes: dict[tuple[type, int, str | None], type] = {}


def model_provider(model: Any) -> str:
    """The genai-prices provider id of an Agno model: its base_url host if set, else its provider name."""
    override = getattr(type(model), "_usage_provider", None)
    if override:
        return override
    base_url = getattr(model, "base_url", None)
    if base_url:
        return _host_provider(base_url)
    name = str(getattr(model, "provider", "") or "").lower()
    return _PROVIDERS.get(name, name.replace(" ", "") or "unknown")


def cache_outside_input(model: Any) -> bool:
    """Whether Agno's input_tokens leave out the cached parts for this model (MindRoom's model_usage rule)."""
    provider = str(getattr(model, "provider", "") or "").lower()
    model_id = str(getattr(model, "id", "") or "").lower()
    if "anthropic" in provider or "bedrock" in provider:
        return True
    if any(c.__module__.startswith("agno.models.anthropic") for c in type(model).__mro__):
        return True
    return "vertex" in provider and "claude" in model_id


def metrics_counts(metrics: Any, add_cache: bool) -> Counts:
    if metrics is None:
        return ZERO
    inp = getattr(metrics, "input_tokens", 0) or 0
    read = getattr(metrics, "cache_read_tokens", 0) or 0
    write = getattr(metrics, "cache_write_tokens", 0) or 0
    if add_cache:
        inp += read + write
    return (inp, getattr(metrics, "output_tokens", 0) or 0, read, write,
            getattr(metrics, "reasoning_tokens", 0) or 0)  # fmt: skip


def _owner(kwargs: dict[str, Any]) -> str | None:
    run = kwargs.get("run_response")
    if run is None:
        return None
    return (getattr(run, "agent_name", None) or getattr(run, "team_name", None) or getattr(run, "agent_id", None)
            or getattr(run, "team_id", None))  # fmt: skip


class _Call:
    """One model request: usage summed over stream deltas, recorded once."""

    __slots__ = ("add_cache", "agent", "counts", "done", "model", "provider", "seen", "t0", "tracker")

    def __init__(self, model: Any, kwargs: dict[str, Any]) -> None:
        self.tracker = type(model)._usage_tracker
        self.provider = model_provider(model)
        self.model = getattr(model, "id", None)
        self.agent = _owner(kwargs)
        self.add_cache = cache_outside_input(model)
        self.counts: Counts = ZERO
        self.seen = False
        self.done = False
        self.t0 = time.perf_counter()

    def add(self, metrics: Any) -> None:
        if metrics is None:
            return
        self.seen = True
        self.counts = tuple(a + b for a, b in zip(self.counts, metrics_counts(metrics, self.add_cache), strict=True))  # type: ignore[assignment]

    def finish(self, outcome: str = "completed", exc: BaseException | None = None) -> None:
        if self.done:
            return
        self.done = True
        status, metadata = "ok", None
        if exc is not None:
            status, metadata = "error", error_metadata(exc)
        elif outcome != "completed":
            metadata = {"stream": outcome}
        elif not self.seen:
            metadata = {"usage": "missing"}
        record(self.tracker, self.provider, self.model, self.counts, (time.perf_counter() - self.t0) * 1000.0,
               status=status, agent=self.agent, metadata=metadata)  # fmt: skip


def _invoke(self: Any, *args: Any, **kwargs: Any) -> Any:
    call = _Call(self, kwargs)
    try:
        result = type(self)._usage_base.invoke(self, *args, **kwargs)
    except Exception as exc:
        call.finish(exc=exc)
        raise
    call.add(getattr(result, "response_usage", None))
    call.finish()
    return result


async def _ainvoke(self: Any, *args: Any, **kwargs: Any) -> Any:
    call = _Call(self, kwargs)
    try:
        result = await type(self)._usage_base.ainvoke(self, *args, **kwargs)
    except Exception as exc:
        call.finish(exc=exc)
        raise
    call.add(getattr(result, "response_usage", None))
    call.finish()
    return result


def _invoke_stream(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
    call = _Call(self, kwargs)
    try:
        for delta in type(self)._usage_base.invoke_stream(self, *args, **kwargs):
            call.add(getattr(delta, "response_usage", None))
            yield delta
    except Exception as exc:
        call.finish(exc=exc)
        raise
    except BaseException:
        call.finish("abandoned")
        raise
    call.finish()


async def _ainvoke_stream(self: Any, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
    call = _Call(self, kwargs)
    try:
        async for delta in type(self)._usage_base.ainvoke_stream(self, *args, **kwargs):
            call.add(getattr(delta, "response_usage", None))
            yield delta
    except Exception as exc:
        call.finish(exc=exc)
        raise
    except BaseException:
        call.finish("abandoned")
        raise
    call.finish()


def _run(self: Any, *args: Any, **kwargs: Any) -> Any:
    cls = type(self)
    _instrument_tree(self, cls._usage_tracker, cls._usage_provider)
    return cls._usage_base.run(self, *args, **kwargs)


def _arun(self: Any, *args: Any, **kwargs: Any) -> Any:
    cls = type(self)
    _instrument_tree(self, cls._usage_tracker, cls._usage_provider)
    return cls._usage_base.arun(self, *args, **kwargs)


# Methods of the recording subclasses. A plain subclass (no mixin) keeps the instance layout, so an
# existing object can take the new class.
_MODEL_METHODS = {"invoke": _invoke, "ainvoke": _ainvoke, "invoke_stream": _invoke_stream,
                  "ainvoke_stream": _ainvoke_stream}  # fmt: skip
_RUNNER_METHODS = {"run": _run, "arun": _arun}


def _swap(obj: Any, methods: dict[str, Any], tracker: Any, provider: str | None) -> None:
    cls = type(obj)
    base = getattr(cls, "_usage_base", cls)
    if cls is not base and cls._usage_tracker is tracker and cls._usage_provider == provider:
        return
    key = (base, id(tracker), provider)
    tracked = _classes.get(key)  # type: ignore[call-overload]
    if tracked is None:
        attrs = {
            "_usage_base": base,
            "_usage_tracker": tracker,
            "_usage_provider": provider,
            "__module__": base.__module__,
            "__qualname__": base.__qualname__,
            "__doc__": base.__doc__,
            **methods,
        }
        tracked = type(base.__name__, (base,), attrs)  # fmt: skip
        _classes[key] = tracked
    obj.__class__ = tracked


def _instrument_tree(obj: Any, tracker: Any, provider: str | None) -> None:
    from agno.models.base import Model

    for attr in _MODEL_ATTRS:
        model = getattr(obj, attr, None)
        if isinstance(model, Model):
            _swap(model, _MODEL_METHODS, tracker, provider)
    members = getattr(obj, "members", None)
    if isinstance(members, list | tuple):
        for member in members:
            _instrument_tree(member, tracker, provider)
    if hasattr(obj, "run") and hasattr(obj, "arun"):
        _swap(obj, _RUNNER_METHODS, tracker, provider)


def instrument_agno(agent_or_team: Any, tracker: Any, enforce: bool = False, *, provider: str | None = None) -> Any:
    """Record every model call of this Agno Agent or Team (leader and members) on `tracker`.

    `provider` overrides the provider name of every model (for gateways and proxies). `enforce` is
    accepted for symmetry with the other hooks; quota enforcement for Agno runs is not wired yet.
    """
    warm_up()
    _instrument_tree(agent_or_team, tracker, provider)
    return agent_or_team
