"""The Agno hook: a real Agent and a real Team with OpenAIChat models pointed at the loopback stand-in."""

from __future__ import annotations

import pytest
from agno.agent import Agent
from agno.models.openai import OpenAIChat
from agno.team import Team
from agno.utils.team import get_member_id

from tests.fakes.providers import Reply, Usage
from tracking.hooks.agno import ANTHROPIC, OPENAI, instrument_agno, metrics_counts, model_family
from tracking.pricing import pico_to_usd

from .helpers import expected_cost, stored

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
    if mode == "run":
        assert team.run("Write about otters").content == "answer from gpt-4o"
    elif mode == "run-stream":
        list(team.run("Write about otters", stream=True))
    elif mode == "arun":
        await team.arun("Write about otters")
    else:
        [event async for event in team.arun("Write about otters", stream=True)]
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
    from agno.metrics import MessageMetrics
    from agno.models.anthropic import Claude

    metrics = MessageMetrics(input_tokens=1000, output_tokens=250, cache_read_tokens=3000, cache_write_tokens=500)
    assert model_family(Claude(id="claude-sonnet-4-5")) == ANTHROPIC
    assert model_family(OpenAIChat(id="gpt-4o")) == OPENAI
    assert metrics_counts(metrics, ANTHROPIC) == (4500, 250, 3000, 500, 0, 0)
    assert metrics_counts(metrics, OPENAI)[0] == 1000
