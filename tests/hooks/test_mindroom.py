"""MindRoom passive collection from `io.mindroom.ai_run` message content."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from matrix_usage_bot.tracking.hooks.mindroom import agent_from_sender, event_from_matrix
from matrix_usage_bot.tracking.pricing import pico_to_usd
from tests.fakes.providers import Usage

from .helpers import assert_estimated, assert_event, expected_cost, o200k, rejected, stored

ROOM = "!lobby:example.org"


def reply(provider: str = "openai", model_id: str = "gpt-4o", usage: dict | None = None) -> dict:
    """The shape of a MindRoom agent reply: body, thread relation, and the ai_run metadata."""
    return {
        "msgtype": "m.text",
        "body": "The answer is 42.",
        "format": "org.matrix.custom.html",
        "formatted_body": "<p>The answer is 42.</p>",
        "m.relates_to": {"rel_type": "m.thread", "event_id": "$root", "is_falling_back": True,
                         "m.in_reply_to": {"event_id": "$question"}},
        "io.mindroom.stream_status": "completed",
        "io.mindroom.ai_run": {
            "version": 1,
            "run_id": "run-7f3a",
            "session_id": "$root",
            "status": "completed",
            "model": {"config": "default", "id": model_id, "provider": provider},
            "usage": usage if usage is not None else {
                "input_tokens": 1800, "output_tokens": 240, "total_tokens": 2040, "cache_read_tokens": 1024,
                "cache_write_tokens": 0, "reasoning_tokens": 64, "audio_input_tokens": 0,
                "time_to_first_token": "0.412", "duration": "2.75", "cost": "0.0031",
            },
            "context": {"input_tokens": 1800, "window_tokens": 128000, "cache_read_input_tokens": 1024},
            "tools": {"count": 2},
        },
    }  # fmt: skip


def test_openai_reply_becomes_the_right_event():
    event = event_from_matrix(ROOM, "$reply1", "@mindroom_calculator:example.org", reply(), 1_760_000_000_000)
    assert event is not None
    assert (event.event_id, event.room_id, event.thread_id, event.agent) == ("$reply1", ROOM, "$root", "calculator")
    assert (event.provider, event.model, event.operation, event.session_id) == ("openai", "gpt-4o", "chat", "$root")
    got = (event.input_tokens, event.output_tokens, event.cache_read_tokens, event.cache_write_tokens,
           event.reasoning_tokens)  # fmt: skip
    assert got == (1800, 240, 1024, 0, 64)
    assert event.ts == datetime.fromtimestamp(1_760_000_000, UTC) and event.latency_ms == 2750.0
    assert event.metadata == {"run_id": "run-7f3a", "status": "completed", "source": "mindroom"}


def test_anthropic_family_cache_tokens_added_back():
    usage = {"input_tokens": 1000, "output_tokens": 250, "cache_read_tokens": 3000, "cache_write_tokens": 500}
    for provider, model_id in [("anthropic", "claude-sonnet-4-5"), ("vertexai_claude", "claude-sonnet-4-5"),
                               ("bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0")]:  # fmt: skip
        event = event_from_matrix(ROOM, "$e", "@mindroom_writer:example.org", reply(provider, model_id, usage))
        assert (event.input_tokens, event.cache_read_tokens, event.cache_write_tokens) == (4500, 3000, 500)
    event = event_from_matrix(ROOM, "$e", "@mindroom_writer:example.org", reply("openai", "gpt-4o", usage | {
        "input_tokens": 4000}))  # fmt: skip
    assert event.input_tokens == 4000


def test_content_without_ai_run_is_ignored():
    assert event_from_matrix(ROOM, "$e", "@alice:example.org", {"msgtype": "m.text", "body": "hi"}) is None


def without_usage(status: str = "completed", usage: dict | None = None) -> dict:
    """A reply whose ai_run has no `usage` (MindRoom leaves it out when Agno reported none), or this one."""
    content = reply()
    del content["io.mindroom.ai_run"]["usage"], content["io.mindroom.ai_run"]["context"]
    content["io.mindroom.ai_run"]["status"] = status
    if usage is not None:
        content["io.mindroom.ai_run"]["usage"] = usage
    return content


@pytest.mark.parametrize("usage", [None, {"input_tokens": 0}, {"duration": "1.5", "time_to_first_token": "0.2"}],
                         ids=["no-usage", "zero-counts", "no-token-counts"])  # fmt: skip
async def test_reply_without_usage_is_estimated_from_its_body(tracker, usage):
    content = without_usage(usage=usage)
    event = event_from_matrix(ROOM, "$e", "@mindroom_calculator:example.org", content, 1_760_000_000_000)
    assert (event.usage_source, event.input_tokens, event.output_tokens) == ("estimated", 0, o200k(content["body"]))
    tracker.record(**event.model_dump(exclude={"cost_usd"}))
    [row] = await stored(tracker)
    await assert_estimated(tracker, row, "openai", "gpt-4o", "", "The answer is 42.")
    assert (row["event_id"], row["agent"], row["thread_id"]) == ("$e", "calculator", "$root")


def test_failed_run_without_usage_is_not_estimated():
    assert event_from_matrix(ROOM, "$e", "@mindroom_a:example.org", without_usage("error")) is None
    assert event_from_matrix(ROOM, "$e", "@mindroom_a:example.org", without_usage() | {"body": ""}) is None


def test_reply_with_usage_is_provider():
    assert event_from_matrix(ROOM, "$e", "@mindroom_a:example.org", reply()).usage_source == "provider"


def test_agent_names():
    assert agent_from_sender("@mindroom_calculator:example.org") == "calculator"
    assert agent_from_sender("@mindroom_research_team_ab12:example.org", namespace="ab12") == "research_team"
    assert agent_from_sender("@bob:example.org") == "bob"


async def test_same_event_id_twice_is_stored_once(tracker):
    content = reply(model_id="gpt-4o")
    event = event_from_matrix(ROOM, "$reply1", "@mindroom_calculator:example.org", content, 1_760_000_000_000)
    assert event is not None
    for _ in range(2):
        tracker.record(**event.model_dump(exclude={"cost_usd"}))
    assert event_from_matrix(ROOM, "$other", "@alice:example.org", {"body": "hi"}) is None
    rows = await stored(tracker)
    assert len(rows) == 1 and rows[0]["event_id"] == "$reply1"
    assert tracker.stats.duplicates == 1
    assert pico_to_usd(rows[0]["cost_pusd"]) == expected_cost("openai", "gpt-4o", 1800, 240, 1024)


def mindroom_ai_run(run_output) -> dict:
    """What MindRoom puts under io.mindroom.ai_run for a finished Agno run (ai_run_metadata.py): the run's
    `metrics.to_dict()` keeping strings, ints, booleans and None, floats as strings, nested objects dropped."""
    usage = {k: (format(v, ".12g") if isinstance(v, float) else v) for k, v in run_output.metrics.to_dict().items()
             if isinstance(v, str | int | float | bool) or v is None}  # fmt: skip
    return {"version": 1, "run_id": run_output.run_id, "session_id": run_output.session_id, "status": "completed",
            "model": {"config": "default", "id": run_output.model, "provider": run_output.model_provider},
            "usage": usage, "tools": {"count": 0}}  # fmt: skip


async def test_gemini_thinking_through_mindroom_metadata(providers, tracker):
    """A real Agno run on Gemini (output 300 + thinking 1,200 on the wire), published as MindRoom publishes it."""
    from agno.agent import Agent

    from .test_agno import THINKING, gemini

    providers.usage = THINKING
    run_output = Agent(name="thinker", model=gemini(providers, False)).run("think")
    ai_run = mindroom_ai_run(run_output)
    assert ai_run["model"]["provider"] == "Google"
    assert (ai_run["usage"]["output_tokens"], ai_run["usage"]["reasoning_tokens"]) == (300, 1200)
    event = event_from_matrix(ROOM, "$think", "@mindroom_thinker:example.org", {"body": "…", "io.mindroom.ai_run":
                              ai_run}, 1_760_000_000_000)  # fmt: skip
    got = (event.input_tokens, event.output_tokens, event.cache_read_tokens, event.reasoning_tokens)
    assert got == (2000, 1500, 500, 1200)
    tracker.record(**event.model_dump(exclude={"cost_usd"}))
    [row] = await stored(tracker)
    assert_event(row, "google", "gemini-2.5-flash", 2000, 1500, 500, 0, 1200)


@pytest.mark.parametrize(("provider", "model_id"), [("Google", "gemini-2.5-pro"), ("gemini", "gemini-2.5-pro"),
                                                     ("google", "gemini-2.5-pro")])  # fmt: skip
def test_gemini_family_names(provider, model_id):
    usage = {"input_tokens": 2000, "output_tokens": 300, "reasoning_tokens": 1200, "cache_read_tokens": 500}
    event = event_from_matrix(ROOM, "$e", "@mindroom_a:example.org", reply(provider, model_id, usage))
    assert (event.provider, event.input_tokens, event.output_tokens, event.reasoning_tokens) == ("google", 2000,
                                                                                                1500, 1200)


def test_openai_style_reasoning_is_already_output():
    usage = {"input_tokens": 2000, "output_tokens": 1500, "reasoning_tokens": 1200}
    for provider, model_id in [("OpenAI", "o4-mini"), ("OpenRouter", "google/gemini-2.5-pro"), ("groq", "qwen3")]:
        event = event_from_matrix(ROOM, "$e", "@mindroom_a:example.org", reply(provider, model_id, usage))
        assert (event.output_tokens, event.reasoning_tokens) == (1500, 1200), provider


async def test_unfit_usage_is_logged_once_and_kept_as_reported(tracker, tmp_path, caplog):
    """An OpenAI-style report with reasoning above output is no Gemini: nothing is added, nothing clamped."""
    usage = {"input_tokens": 1000, "output_tokens": 100, "reasoning_tokens": 400}
    caplog.set_level(logging.WARNING, logger="matrix_usage_bot.tracking.hooks")
    for n in range(2):
        event = event_from_matrix(ROOM, f"$odd{n}", "@mindroom_a:example.org", reply("openai", "o3-odd", usage))
        assert (event.output_tokens, event.reasoning_tokens) == (100, 400)
        tracker.record(**event.model_dump(exclude={"cost_usd"}))
    caplog.set_level(logging.WARNING, logger="matrix_usage_bot.tracking.rows")
    rows = await stored(tracker)
    assert [(r["output_tokens"], r["reasoning_tokens"]) for r in rows] == [(100, 400), (100, 400)]
    assert rejected(tmp_path / "usage.db") == []
    warnings = [r for r in caplog.records if "o3-odd" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert warnings[0].name == "matrix_usage_bot.tracking.hooks"
    assert "reasoning_tokens (400) exceed output_tokens (100)" in warnings[0].getMessage()


def test_standin_usage_is_what_the_wire_says():
    assert Usage(input=2000, output=1500, reasoning=1200).gemini()["candidatesTokenCount"] == 300
