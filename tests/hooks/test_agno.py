"""The Agno hook: a real Agent and a real Team with OpenAIChat models pointed at the loopback stand-in."""

from __future__ import annotations

import pytest
from agno.agent import Agent
from agno.metrics import MessageMetrics
from agno.models.openai import OpenAIChat
from agno.team import Team
from agno.utils.team import get_member_id

from matrix_usage_bot.tracking.hooks.agno import (
    ANTHROPIC,
    GEMINI,
    OPENAI,
    family,
    instrument_agno,
    metrics_counts,
    model_family,
)
from matrix_usage_bot.tracking.pricing import pico_to_usd
from tests.fakes.providers import Reply, Usage

from .helpers import assert_estimated, assert_event, expected_cost, prompt_json, provider_cost, stored

USAGE = {
    "gpt-4o": Usage(input=1000, output=100, cache_read=200, cache_write=0, reasoning=0),
    "gpt-4o-mini": Usage(input=500, output=50, cache_read=0, cache_write=0, reasoning=0),
    "gpt-4.1-mini": Usage(input=700, output=70, cache_read=100, cache_write=0, reasoning=10),
    "gpt-4.1": Usage(input=300, output=30, cache_read=0, cache_write=0, reasoning=0),
}
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def model(providers, model_id: str) -> OpenAIChat:
    return OpenAIChat(id=model_id, base_url=providers.url + "/v1", api_key="k", max_retries=0)


def delegating(providers, members: list[Agent]):
    """The leader (gpt-4o) delegates to every member first, then answers; members answer at once."""

    def respond(endpoint, body):
        model_id = body["model"]
        if model_id == "gpt-4o" and not any(m.get("role") == "tool" for m in body["messages"]):
            calls = [("delegate_task_to_member", {"member_id": get_member_id(m), "task": "help"}) for m in members]
            return Reply(tool_calls=calls, usage=USAGE[model_id])
        return Reply(text=f"answer from {model_id}", usage=USAGE[model_id])

    providers.responder = respond


async def run(runner, mode: str, prompt: str):
    """One run of an Agent or a Team, in each of the four ways Agno offers; the output of a plain run."""
    if mode == "run":
        return runner.run(prompt)
    if mode == "run-stream":
        return list(runner.run(prompt, stream=True))
    if mode == "arun":
        return await runner.arun(prompt)
    return [event async for event in runner.arun(prompt, stream=True)]


def totals(rows, key):
    sums = {}
    for row in rows:
        s = sums.setdefault(row[key], [0, 0, 0, 0, 0])
        for i, col in enumerate(("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                                 "reasoning_tokens")):  # fmt: skip
            s[i] += row[col]
    return sums


@pytest.mark.parametrize("mode", ["run", "run-stream", "arun", "arun-stream"])
async def test_team_run_records_leader_and_each_member(providers, tracker, mode):
    researcher = Agent(name="Researcher", model=model(providers, "gpt-4o-mini"))
    writer = Agent(name="Writer", model=model(providers, "gpt-4.1-mini"))
    team = Team(name="Editor", model=model(providers, "gpt-4o"), members=[researcher, writer])
    delegating(providers, [researcher, writer])
    instrument_agno(team, tracker, provider="openai")
    result = await run(team, mode, "Write about otters")
    if mode == "run":
        assert result.content == "answer from gpt-4o"
    rows = await stored(tracker)
    assert totals(rows, "agent") == {"Editor": [2000, 200, 400, 0, 0], "Researcher": [500, 50, 0, 0, 0],
                                     "Writer": [700, 70, 100, 0, 10]}  # fmt: skip
    sent = [0, 0, 0, 0, 0]
    for s in providers.sent:
        for i, v in enumerate((s.usage.input, s.usage.output, s.usage.cache_read, s.usage.cache_write,
                               s.usage.reasoning)):  # fmt: skip
            sent[i] += v
    assert [sum(v[i] for v in totals(rows, "agent").values()) for i in range(5)] == sent
    for row in rows:
        u = USAGE[row["model"]]
        assert row["provider"] == "openai" and row["status"] == "ok"
        assert pico_to_usd(row["cost_pusd"]) == expected_cost("openai", row["model"], u.input, u.output, u.cache_read)


async def test_member_added_after_instrumenting_is_recorded(providers, tracker):
    researcher = Agent(name="Researcher", model=model(providers, "gpt-4o-mini"))
    team = Team(name="Editor", model=model(providers, "gpt-4o"), members=[researcher])
    instrument_agno(team, tracker, provider="openai")
    late = Agent(name="Late", model=model(providers, "gpt-4.1"))
    team.members.append(late)
    delegating(providers, [researcher, late])
    team.run("go")
    rows = await stored(tracker)
    assert set(totals(rows, "agent")) == {"Editor", "Researcher", "Late"}
    assert totals(rows, "agent")["Late"] == [300, 30, 0, 0, 0]


async def test_single_agent_and_its_copies(providers, tracker):
    providers.usage = USAGE["gpt-4.1"]
    agent = Agent(name="Solo", model=model(providers, "gpt-4.1"))
    instrument_agno(agent, tracker, provider="openai")
    instrument_agno(agent, tracker, provider="openai")
    agent.run("hi")
    agent.deep_copy().run("hi")
    rows = await stored(tracker)
    assert [(r["agent"], r["input_tokens"]) for r in rows] == [("Solo", 300), ("Solo", 300)]


async def test_model_error_is_recorded(providers, tracker):
    agent = Agent(name="Solo", model=model(providers, "error-400"))
    instrument_agno(agent, tracker, provider="openai")
    agent.run("hi")
    rows = await stored(tracker)
    assert rows and all(r["status"] == "error" and r["agent"] == "Solo" for r in rows)


def test_anthropic_family_usage_gets_cache_back_into_input():
    from agno.models.anthropic import Claude

    metrics = MessageMetrics(input_tokens=1000, output_tokens=250, cache_read_tokens=3000, cache_write_tokens=500)
    assert model_family(Claude(id="claude-sonnet-4-5")) == ANTHROPIC
    assert model_family(OpenAIChat(id="gpt-4o")) == OPENAI
    assert metrics_counts(metrics, ANTHROPIC).given() == {"input_tokens": 4500, "output_tokens": 250,
                                                          "cache_read_tokens": 3000, "cache_write_tokens": 500}
    assert metrics_counts(metrics, OPENAI).input_tokens == 1000


# Gemini reports thinking apart: on the wire candidatesTokenCount 300 and thoughtsTokenCount 1,200; Agno's
# metrics copy them as output_tokens 300 and reasoning_tokens 1,200. The prompt (2,000) includes 500 cached.
THINKING = Usage(input=2000, output=1500, cache_read=500, cache_write=0, reasoning=1200)


def gemini(providers, vertex: bool):
    """Agno's own Gemini model (google-genai underneath) on the stand-in: Google AI, or Vertex AI in express mode."""
    pytest.importorskip("google.genai")
    from agno.models.google import Gemini

    options = {"http_options": {"base_url": providers.url}}
    if vertex:
        return Gemini(id="gemini-2.5-flash", vertexai=True,
                      client_params={**options, "api_key": "k", "project": None, "location": None})  # fmt: skip
    return Gemini(id="gemini-2.5-flash", api_key="k", client_params=options)


@pytest.mark.parametrize("vertex", [False, True], ids=["google-ai", "vertex"])
@pytest.mark.parametrize("mode", ["run", "run-stream", "arun", "arun-stream"])
async def test_gemini_thinking_is_output(providers, tracker, vertex, mode):
    providers.usage = THINKING
    assert (THINKING.gemini()["candidatesTokenCount"], THINKING.gemini()["thoughtsTokenCount"]) == (300, 1200)
    agent = Agent(name="Thinker", model=gemini(providers, vertex))
    instrument_agno(agent, tracker)
    await run(agent, mode, "think")
    [row] = await stored(tracker)
    assert_event(row, "google", "gemini-2.5-flash", 2000, 1500, 500, 0, 1200)
    assert (row["agent"], row["status"], row["metadata"]) == ("Thinker", "ok", None)


async def test_gemini_thinking_costs_what_genai_prices_makes_of_the_raw_reply(providers, tracker):
    """Independently of our conversion: genai-prices' own Gemini extractor, on the body the server sent."""
    from datetime import UTC, datetime

    from genai_prices import calc_price, extract_usage

    providers.usage = THINKING
    agent = Agent(name="Thinker", model=gemini(providers, False))
    instrument_agno(agent, tracker)
    agent.run("think")
    [row] = await stored(tracker)
    extracted = extract_usage({"usageMetadata": THINKING.gemini(), "modelVersion": "gemini-2.5-flash"},
                              provider_id="google")  # fmt: skip
    when = datetime.fromtimestamp(row["ts_ms"] / 1000, UTC)
    price = calc_price(extracted.usage, "gemini-2.5-flash", provider_id="google", genai_request_timestamp=when)
    assert extracted.usage.output_tokens == 1500
    assert pico_to_usd(row["cost_pusd"]) == price.total_price


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_claude_one_hour_cache_writes(providers, tracker, stream):
    """Agno's metrics keep only the cache-write total; the hook reads the TTL breakdown from the raw reply."""
    from agno.models.anthropic import Claude

    providers.usage = Usage(input=4500, output=250, cache_read=3000, cache_write=500, reasoning=90, cache_write_1h=400)
    model = Claude(id="claude-sonnet-4-5", api_key="k", client_params={"base_url": providers.url, "max_retries": 0})
    agent = Agent(name="Writer", model=model)
    instrument_agno(agent, tracker)
    if stream:
        list(agent.run("write", stream=True))
    else:
        agent.run("write")
    [row] = await stored(tracker)
    got = [row[k] for k in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                            "cache_write_1h_tokens")]  # fmt: skip
    assert got == [4500, 250, 3000, 500, 400] and row["reasoning_tokens"] == 90  # thinking, read from the raw reply


@pytest.mark.parametrize(("provider", "model_id", "expected"), [
    ("Anthropic", "claude-sonnet-4-5", ANTHROPIC), ("VertexAI", "claude-sonnet-4-5", ANTHROPIC),
    ("AwsBedrock", "amazon.nova-pro-v1:0", ANTHROPIC), ("vertexai_claude", "sonnet", ANTHROPIC),
    ("Google", "gemini-2.5-pro", GEMINI), ("gemini", "gemini-2.5-pro", GEMINI),
    ("OpenAI", "gpt-5", OPENAI), ("Groq", "openai/gpt-oss-120b", OPENAI), ("LiteLLM", "gemini/gemini-2.5-pro", OPENAI),
    ("OpenRouter", "google/gemini-2.5-pro", OPENAI),
])  # fmt: skip
def test_model_families_by_agno_provider_name(provider, model_id, expected):
    assert family(provider, model_id) == expected
    metrics = MessageMetrics(input_tokens=1000, output_tokens=300, cache_read_tokens=200, reasoning_tokens=100)
    inp, out = {ANTHROPIC: (1200, 300), GEMINI: (1000, 400), OPENAI: (1000, 300)}[expected]
    assert metrics_counts(metrics, expected).given() == {"input_tokens": inp, "output_tokens": out,
                                                         "cache_read_tokens": 200, "reasoning_tokens": 100}


@pytest.mark.parametrize("mode", ["run", "run-stream", "arun", "arun-stream"])
async def test_a_reply_without_usage_is_estimated(providers, tracker, mode):
    """OpenAIChat leaves `response_usage` None when the reply (or every stream chunk) has no usage."""
    text = "Hello. Bonjour. Hallo."
    providers.responder = lambda endpoint, body: Reply(text=text, no_usage=True)
    agent = Agent(name="Solo", model=model(providers, "gpt-4.1"))
    instrument_agno(agent, tracker, provider="openai")
    await run(agent, mode, "Say hello")
    [row] = await stored(tracker)
    sent = [{"role": m["role"], "content": m["content"]} for m in providers.requests[-1]["messages"]]
    assert sent[-1] == {"role": "user", "content": "Say hello"}
    await assert_estimated(tracker, row, "openai", "gpt-4.1", prompt_json(sent), text)
    assert row["agent"] == "Solo"


async def one_call(providers, tracker, usage: Usage, agno_model, mode: str) -> dict:
    """One run of an agent on this model, the stand-in answering with `usage`: the one event stored."""
    providers.usage = usage
    agent = Agent(name="Solo", model=agno_model)
    instrument_agno(agent, tracker)
    await run(agent, mode, "go")
    [row] = await stored(tracker)
    return row


def claude(providers):
    from agno.models.anthropic import Claude

    return Claude(id="claude-sonnet-4-5", api_key="k", client_params={"base_url": providers.url, "max_retries": 0})


@pytest.mark.parametrize("mode", ["run", "run-stream", "arun", "arun-stream"])
async def test_claude_web_searches_and_thinking_from_the_raw_reply(providers, tracker, mode):
    """Agno's Claude metrics keep neither the searches Anthropic ran (usage.server_tool_use.web_search_requests,
    $10 a thousand) nor its thinking tokens: the hook reads both from the raw reply, so the call costs what
    genai-prices makes of the reply Anthropic sent."""
    usage = Usage(input=5200, output=640, cache_read=1500, cache_write=700, cache_write_1h=300, reasoning=210,
                  web_searches=5)  # fmt: skip
    row = await one_call(providers, tracker, usage, claude(providers), mode)
    got = [row[k] for k in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                            "cache_write_1h_tokens", "reasoning_tokens", "web_searches")]  # fmt: skip
    assert got == [5200, 640, 1500, 700, 300, 210, 5]
    want = provider_cost("anthropic", "claude-sonnet-4-5", {"usage": usage.anthropic()}, row["ts_ms"])
    assert pico_to_usd(row["cost_pusd"]) == want


@pytest.mark.parametrize("mode", ["run", "run-stream", "arun", "arun-stream"])
async def test_gemini_audio_images_and_grounding_from_the_raw_reply(providers, tracker, mode):
    """Agno's Gemini metrics have one input count: the hook reads the per-modality counts of usageMetadata
    (promptTokensDetails AUDIO and IMAGE, candidatesTokensDetails IMAGE) and the grounding queries from the raw
    reply, so audio is priced as audio ($1 a million on gemini-2.5-flash, not $0.30) and one grounded prompt at
    $35 a thousand; the prompt tokens of the search tool (toolUsePromptTokenCount), which Agno drops, are input."""
    usage = Usage(input=6400, output=900, cache_read=700, cache_write=0, reasoning=350, audio_in=2500, image_in=800,
                  web_searches=2, tool_prompt=450)  # fmt: skip
    row = await one_call(providers, tracker, usage, gemini(providers, False), mode)
    got = [row[k] for k in ("input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens",
                            "input_audio_tokens", "input_image_tokens", "web_searches")]  # fmt: skip
    assert got == [6400, 900, 700, 350, 2500, 800, 1]
    # cacheTokensDetails lists TEXT only: no audio or image was read from the cache
    want = provider_cost("google", "gemini-2.5-flash", {"usageMetadata": usage.gemini()}, row["ts_ms"],
                         web_searches=1, cache_audio_read_tokens=0, cache_image_read_tokens=0)  # fmt: skip
    assert pico_to_usd(row["cost_pusd"]) == want
