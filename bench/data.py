"""A deterministic, realistic stream of LLM calls for the benchmarks.

The world: ROOMS rooms, AGENTS agents, the 30 MODELS below (priced ones from eight providers, and
local models that nothing prices), USERS users. Rooms are not all alike: activity follows a
Zipf-like curve, each room has 2 to 6 of the agents and 5 to 25 of the users as members, each
agent uses 1 to 3 models (mostly its first). Conversations: a room starts a new one now and then
(70% of them in a thread), asked by one member (90% of its calls) and answered by one agent, or
by the room's team of agents (20%). Token counts are log-normal, with cache reads, cache writes
(Anthropic), reasoning (reasoning models), embeddings (output 0) and 1% errors. Timestamps rise
through the span, as events arrive in a live deployment.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

MODELS: tuple[tuple[str, str], ...] = (
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("openai", "gpt-4.1"),
    ("openai", "gpt-4.1-mini"),
    ("openai", "gpt-4.1-nano"),
    ("openai", "o3"),
    ("openai", "o4-mini"),
    ("openai", "gpt-5"),
    ("openai", "gpt-5-mini"),
    ("openai", "text-embedding-3-small"),
    ("anthropic", "claude-sonnet-4-5"),
    ("anthropic", "claude-opus-4-1"),
    ("anthropic", "claude-haiku-4-5"),
    ("anthropic", "claude-3-5-haiku-latest"),
    ("google", "gemini-2.5-flash"),
    ("google", "gemini-2.5-pro"),
    ("google", "gemini-2.0-flash"),
    ("mistral", "mistral-large-latest"),
    ("mistral", "mistral-small-latest"),
    ("deepseek", "deepseek-chat"),
    ("deepseek", "deepseek-reasoner"),
    ("x-ai", "grok-3"),
    ("x-ai", "grok-4"),
    ("groq", "llama-3.3-70b-versatile"),
    ("ollama", "llama3.1:8b"),
    ("ollama", "qwen2.5:14b"),
    ("ollama", "nomic-embed-text"),
    ("vllm", "acme-finetune-v2"),
    ("lmstudio", "phi-4"),
    ("local", "mixtral-8x7b-instruct"),
)
REASONING = {"o3", "o4-mini", "gpt-5", "gpt-5-mini", "deepseek-reasoner", "grok-4"}
EMBEDDING = {"text-embedding-3-small", "nomic-embed-text"}
CACHING = {"openai", "anthropic", "google", "deepseek"}


@dataclass(frozen=True)
class World:
    rooms: list[str]
    room_weights: list[float]
    room_agents: list[list[str]]
    room_users: list[list[str]]
    agent_models: dict[str, list[tuple[str, str]]]


def world(rooms: int = 200, agents: int = 50, users: int = 2000, seed: int = 7) -> World:
    rng = random.Random(seed)
    room_ids = [f"!room{i:03d}x{rng.getrandbits(32):08x}:example.org" for i in range(rooms)]
    agent_names = [f"agent-{i:02d}" for i in range(agents)]
    user_ids = [f"@user{i:04d}:example.org" for i in range(users)]
    weights = [1 / (i + 1) ** 0.7 for i in range(rooms)]
    room_agents = []
    for i in range(rooms):
        chosen = {agent_names[i % agents]} | set(rng.sample(agent_names, rng.randint(1, 5)))
        room_agents.append(sorted(chosen))
    room_users: list[list[str]] = [[] for _ in range(rooms)]
    for j, user in enumerate(user_ids):  # everyone is in at least one room
        room_users[j % rooms].append(user)
    for members in room_users:
        extra = rng.randint(5, 25) - len(members)
        if extra > 0:
            members.extend(rng.sample(user_ids, extra))
    agent_models = {}
    for j, agent in enumerate(agent_names):
        primary = MODELS[j % len(MODELS)]
        agent_models[agent] = [primary, *sorted(set(rng.sample(MODELS, rng.randint(0, 2))) - {primary})]
    return World(room_ids, weights, room_agents, room_users, agent_models)


def calls(w: World, n: int, start_s: float, end_s: float, seed: int = 1, offset: int = 0) -> Iterator[dict]:
    """n calls with timestamps rising from start_s to end_s, as keyword arguments of Tracker.record."""
    rng = random.Random(seed)
    rand, lognorm = rng.random, rng.lognormvariate
    cumulative = []
    total = 0.0
    for weight in w.room_weights:
        total += weight
        cumulative.append(total)
    threads: dict[int, tuple] = {}
    step = (end_s - start_s) / max(n, 1)
    for i in range(n):
        r = _pick(cumulative, rand() * total)
        if r not in threads or rand() < 0.04:  # a new conversation: who asks, which agents answer
            agents = w.room_agents[r]
            users = w.room_users[r]
            team = agents if rand() < 0.2 else [agents[int(rand() * len(agents))]]
            thread = f"$thread{offset + i:09d}" if rand() < 0.7 else None
            threads[r] = (thread, users[int(rand() * len(users))], team)
        thread, user, team = threads[r]
        agent = team[int(rand() * len(team))]
        models = w.agent_models[agent]
        provider, model = models[0] if rand() < 0.8 else models[int(rand() * len(models))]
        inp = min(int(lognorm(7.3, 1.1)), 200_000)
        if model in EMBEDDING:
            out, reasoning, operation = 0, 0, "embedding"
        else:
            out = min(int(lognorm(5.6, 0.9)), 32_000)
            reasoning = int(out * rand() * 0.8) if model in REASONING else 0
            operation = "chat" if rand() < 0.95 else "summary"
        cache_read = int(inp * rand() * 0.8) if provider in CACHING and rand() < 0.5 else 0
        cache_write = int((inp - cache_read) * rand() * 0.5) if provider == "anthropic" and rand() < 0.3 else 0
        yield {
            "provider": provider,
            "model": model,
            "input_tokens": inp,
            "output_tokens": out,
            "cache_read_tokens": cache_read,
            "cache_write_tokens": cache_write,
            "reasoning_tokens": reasoning,
            "room_id": w.rooms[r],
            "thread_id": thread,
            "agent": agent,
            "user_id": user if rand() < 0.9 else w.room_users[r][int(rand() * len(w.room_users[r]))],
            "operation": operation,
            "latency_ms": round(lognorm(6.5, 0.7), 1),
            "status": "error" if rand() < 0.01 else "ok",
            "ts": start_s + (i + rand()) * step,
        }


def _pick(cumulative: list[float], x: float) -> int:
    lo, hi = 0, len(cumulative) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cumulative[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def span_days(days: float, end_s: float) -> tuple[float, float]:
    return end_s - days * 86400, end_s
