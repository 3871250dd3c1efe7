"""Issue 24's Done-when: random events, bad ones among them, through every entry point into both backends.

Every good event is stored once, with the same row whichever way it came in (`record()`, `usage-bot
ingest`, the HTTP collector, the HTTP tracker, `migrate`), its fields as sent and its cost genai-prices'
own at its time; through an SDK hook (the real `openai` SDK against the stand-in provider) with the
counts the provider reported and the attribution in force. Every bad one is refused with the same reason
on every way in, and nothing else is lost. An entry point is one function of `ENTRY_POINTS`: adding one is
a function that stores the events its way and says what it stored and what it refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN
from pathlib import Path
from typing import Any

import openai
import pytest
from aiohttp import ClientSession
from genai_prices import Usage, calc_price
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matrix_usage_bot import tracking
from matrix_usage_bot.bot.http.server import UsageServer
from matrix_usage_bot.tracking.fields import EVENT_COLUMNS
from matrix_usage_bot.tracking.ingest import ingest_lines
from matrix_usage_bot.tracking.pricing import Pricer
from matrix_usage_bot.tracking.store import Filters, open_store
from matrix_usage_bot.tracking.store.copy import copy_store
from tests.fakes.providers import FakeProviders
from tests.fakes.providers import Usage as Reported
from tests.http.conftest import KEYS, bearer, make_config

MODELS = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5"), ("local", "own-llm")]
TEXT = st.text(alphabet="abz09 :!@$-_.éß😀", max_size=10)
ATTRIBUTION = ("room_id", "thread_id", "agent", "user_id", "session_id")
INF = "__infinity__"  # an infinite float, written as 1e999 in JSON (which json.dumps cannot write)


@dataclass(frozen=True)
class Bad:
    """A change that makes an event invalid, and the reason every entry point must give for it."""

    field: str
    value: Any
    reason: str
    hooked: bool = False
    """Whether an SDK hook can carry it (a provider's count, attribution, the model the provider names)."""
    held_before: bool = False
    """Whether a SQLite store may hold it from before text was checked (`migrate` must refuse it)."""


NUL, LONE = "holds a NUL character (\\x00), which PostgreSQL cannot store in text", \
    "holds a lone surrogate (U+D800), which is not Unicode text and no store takes"  # fmt: skip
BAD = [
    Bad("input_tokens", -7, "must not be negative, got -7", hooked=True),
    Bad("output_tokens", 2_000_000_000, "is 2,000,000,000, more than one call can use (at most 1,000,000,000)", True),
    Bad("cache_read_tokens", 1.5, "must be an integer, got 1.5"),
    Bad("reasoning_tokens", True, "must be an integer, got True"),
    Bad("latency_ms", INF, "must be a finite number of milliseconds, at least 0, got inf"),
    Bad("latency_ms", -3.5, "must be a finite number of milliseconds, at least 0, got -3.5"),
    Bad("agent", "scr\x00be", NUL, hooked=True, held_before=True),
    Bad("room_id", "!r\ud800:x", LONE, hooked=True),
    Bad("thread_id", 42, "must be a string, got 42", hooked=True),
    Bad("user_id", "@" + "u" * 300, "is 301 characters; at most 255 allowed", hooked=True),
    Bad("model", "m" * 256, "is 256 characters; at most 255 allowed", hooked=True),
    Bad("provider", "", "must not be empty"),
    Bad("event_id", "", "must not be empty"),
    Bad("ts", "2101-01-01T00:00:00+00:00", "must lie between 2000-01-01 and 2100-01-01 (UTC), got"
                                          " '2101-01-01T00:00:00+00:00'"),
    Bad("status", "maybe", "must be 'ok' or 'error', got 'maybe'"),
    Bad("usage_source", "guess", "must be 'provider' or 'estimated', got 'guess'"),
    Bad("metadata", {"note": "a\x00b"}, "holds a NUL character (\\u0000), which PostgreSQL cannot store in text"),
    Bad("metadata", {"note": "y" * 5000}, "is 5011 bytes of JSON; at most 4096 allowed"),
]


@st.composite
def events(draw: st.DrawFn) -> list[tuple[dict[str, Any], Bad | None]]:
    """Events as JSON would carry them (ts as ISO-8601 text), each with the change that spoils it, if any."""
    drawn = []
    for n in range(draw(st.integers(6, 14))):
        provider, model = draw(st.sampled_from(MODELS))
        inp = draw(st.integers(0, 200_000))
        event: dict[str, Any] = {
            "event_id": f"ev-{n}", "provider": provider, "model": model, "input_tokens": inp,
            "output_tokens": draw(st.integers(0, 20_000)), "cache_read_tokens": draw(st.integers(0, inp // 2)),
            "cache_write_tokens": draw(st.integers(0, inp // 2)), "reasoning_tokens": draw(st.integers(0, 50)),
            "ts": datetime.fromtimestamp(draw(st.integers(1_767_225_600_000, 1_798_761_599_999)) / 1000,
                                         UTC).isoformat(timespec="milliseconds"),
        }  # fmt: skip
        for name in ATTRIBUTION:
            if draw(st.booleans()):
                event[name] = draw(TEXT)
        for name, values in (("operation", st.sampled_from(["chat", "embedding", "summary", ""])),
                             ("latency_ms", st.integers(0, 10**7).map(lambda ms: ms / 10)),
                             ("status", st.sampled_from(["ok", "error"])),
                             ("usage_source", st.sampled_from(["provider", "estimated"])),
                             ("metadata", st.dictionaries(TEXT, TEXT | st.integers(), max_size=3))):  # fmt: skip
            if draw(st.booleans()):
                event[name] = draw(values)
        bad = draw(st.none() | st.none() | st.sampled_from(BAD))
        if bad is not None:
            event[bad.field] = bad.value
        drawn.append((event, bad))
    return drawn


def as_json(event: dict[str, Any]) -> str:
    return json.dumps(event).replace(f'"{INF}"', "1e999")


def as_python(event: dict[str, Any]) -> dict[str, Any]:
    """`record()`'s keywords for an event: a datetime, infinity as a float."""
    fields = {name: float("inf") if value == INF else value for name, value in event.items()}
    return {**fields, "ts": datetime.fromisoformat(event["ts"])}


@dataclass
class Outcome:
    rows: dict[str, dict[str, Any]]
    """The stored rows by event_id."""
    refused: list[str]
    """The reason given for each refused event ("field: why")."""


Stores = Callable[[str], Awaitable[str]]
"""A fresh, empty store of the backend under test, by a name for it."""


async def stored_rows(url: str) -> dict[str, dict[str, Any]]:
    store = await open_store(url)
    try:
        rows = [dict(zip(EVENT_COLUMNS, row, strict=True)) async for row in store.iter_events(0, 2**62, Filters())]
        for row in rows:
            del row["source"]  # each entry point's own: the key's name, tracker, ingest (migrate keeps it)
    finally:
        await store.close()
    assert len({row["event_id"] for row in rows}) == len(rows)
    return {row["event_id"]: row for row in rows}


def rejected_reasons(url: str) -> list[str]:
    from tests.dbrows import rows

    return [reason for (reason,) in rows(url, "SELECT reason FROM rejected_events ORDER BY id")]


async def by_record(sent: list[dict[str, Any]], stores: Stores, ctx: Context) -> Outcome:
    url = await stores("record")
    async with tracking.Tracker(url) as tracker:
        for event in sent:
            tracker.record(**as_python(event))
    return Outcome(await stored_rows(url), rejected_reasons(url))


async def by_ingest(sent: list[dict[str, Any]], stores: Stores, ctx: Context) -> Outcome:
    url = await stores("ingest")
    store = await open_store(url)
    try:
        result = await ingest_lines(store, [as_json(event) for event in sent], Pricer())
    finally:
        await store.close()
    return Outcome(await stored_rows(url), [error.split(": ", 1)[1] for error in result.errors])


async def by_collector(sent: list[dict[str, Any]], stores: Stores, ctx: Context) -> Outcome:
    """Good events in one body; each bad one alone (a bad event refuses its whole request)."""
    url = await stores("collector")
    server = await UsageServer(make_config(url, http={"max_body_bytes": 10**6})).start()
    refused = []
    try:
        async with ClientSession() as client:
            for event in sent:
                async with client.post(f"http://127.0.0.1:{server.port}/v1/events", data=as_json(event),
                                       headers=bearer("admin")) as response:  # fmt: skip
                    answer = await response.json()
                if response.status == 400:
                    refused.append(answer["error"].removeprefix("events[0]."))
                else:
                    assert (response.status, answer["rejected"]) == (200, []), answer
    finally:
        await server.close()
    return Outcome(await stored_rows(url), refused)


async def by_http_tracker(sent: list[dict[str, Any]], stores: Stores, ctx: Context) -> Outcome:
    url = await stores("http-tracker")
    server = await UsageServer(make_config(url)).start()
    ctx.caplog.clear()
    try:
        async with tracking.Tracker(f"http://127.0.0.1:{server.port}", api_key=KEYS["admin"],
                                    spool=Path(tempfile.mkdtemp(dir=ctx.tmp)) / "spool.jsonl") as tracker:  # fmt: skip
            for event in sent:
                tracker.record(**as_python(event))
    finally:
        await server.close()
    prefix = "usage event rejected: "
    refused = [r.getMessage().removeprefix(prefix) for r in ctx.caplog.records
               if r.name == "matrix_usage_bot.tracking.writer" and r.getMessage().startswith(prefix)]  # fmt: skip
    rows = await stored_rows(url)
    return Outcome(rows, refused)


async def by_migrate(sent: list[dict[str, Any]], stores: Stores, ctx: Context) -> Outcome:
    """A SQLite store holding the good events, and the bad ones it may hold from before text was checked,
    copied into a store of the backend under test."""
    url, source = await stores("migrated"), f"sqlite:///{ctx.tmp / 'source.db'}"
    Path(source.removeprefix("sqlite:///")).unlink(missing_ok=True)
    old, target = await open_store(source), await open_store(url)
    try:
        await ingest_lines(old, [as_json(event) for event in sent], Pricer())
        await old.insert_rows([held_before(event, bad) for event, bad in ctx.drawn if bad and bad.held_before])
        result = await copy_store(old, target)
    finally:
        await old.close()
        await target.close()
    return Outcome(await stored_rows(url), [refused.split(": ", 1)[1] for refused in result.refused])


def held_before(event: dict[str, Any], bad: Bad) -> tuple:
    """The row a store took before its text was checked: the event's row with the bad text in it."""
    from matrix_usage_bot.tracking.rows import values_to_row
    from matrix_usage_bot.tracking.validation import clean

    row = values_to_row(clean({**event, bad.field: "-"}), Pricer(), "ingest")
    return tuple(bad.value if column == bad.field else value for column, value in zip(EVENT_COLUMNS, row, strict=True))


@dataclass
class Context:
    tmp: Path
    caplog: pytest.LogCaptureFixture
    drawn: list[tuple[dict[str, Any], Bad | None]]


ENTRY_POINTS = {"record": by_record, "ingest": by_ingest, "collector": by_collector,
                "http_tracker": by_http_tracker, "migrate": by_migrate}  # fmt: skip
"""Each stores the events its way and says what it stored and what it refused, and why."""


def expected_cost(event: dict[str, Any], ts_ms: int) -> int | None:
    """genai-prices' own price of the event at its time, in pico-USD (ties to even); None when unpriced."""
    usage = Usage(input_tokens=event.get("input_tokens", 0), output_tokens=event.get("output_tokens", 0),
                  cache_read_tokens=event.get("cache_read_tokens", 0),
                  cache_write_tokens=event.get("cache_write_tokens", 0))  # fmt: skip
    try:
        price = calc_price(usage, event["model"], provider_id=event["provider"],
                           genai_request_timestamp=datetime.fromtimestamp(ts_ms / 1000, UTC)).total_price
    except LookupError:
        return None
    return int((price * 10**12).to_integral_value(rounding=ROUND_HALF_EVEN))


def assert_stored_as_sent(row: dict[str, Any], event: dict[str, Any]) -> None:
    ts_ms = int(datetime.fromisoformat(event["ts"]).timestamp() * 1000)
    want = {
        "ts_ms": ts_ms, "provider": event["provider"], "model": event["model"],
        **{name: event.get(name) or "" for name in ("room_id", "thread_id", "agent", "user_id")},
        "session_id": event.get("session_id") or None, "operation": event.get("operation") or "chat",
        **{name: event[name] for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                                          "reasoning_tokens")},
        "latency_ms": event.get("latency_ms"), "status": event.get("status", "ok"),
        "usage_source": event.get("usage_source", "provider"), "cost_pusd": expected_cost(event, ts_ms),
    }  # fmt: skip
    assert {name: row[name] for name in want} == want
    assert json.loads(row["metadata"] or "{}") == event.get("metadata", {})


SETTINGS = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip


@pytest.fixture
def stores(store_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Stores:
    """Fresh stores of the backend under test (`store_url`'s)."""
    counter = iter(range(10**6))

    async def fresh(name: str) -> str:
        if store_url.startswith("sqlite"):
            return f"sqlite:///{tmp_path / f'{name}-{next(counter)}.db'}"
        return await asyncio.to_thread(request.getfixturevalue("pg_server").new_database)

    return fresh


@SETTINGS
@given(drawn=events())
async def test_every_entry_point_stores_the_good_and_refuses_the_bad_alike(drawn, stores, tmp_path, caplog):
    sent = [event for event, _ in drawn]
    good = {event["event_id"]: event for event, bad in drawn if bad is None}
    caplog.set_level(logging.ERROR, logger="matrix_usage_bot.tracking.writer")
    ctx = Context(tmp_path, caplog, drawn)
    outcomes = {}
    for name, entry in ENTRY_POINTS.items():
        outcomes[name] = outcome = await entry(sent, stores, ctx)
        refusable = [bad for _, bad in drawn if bad is not None and (name != "migrate" or bad.held_before)]
        assert sorted(outcome.refused) == sorted(f"{bad.field}: {bad.reason}" for bad in refusable), name
        assert set(outcome.rows) == set(good), name
    for event_id, event in good.items():
        assert_stored_as_sent(outcomes["record"].rows[event_id], event)
        for name, outcome in outcomes.items():
            assert outcome.rows[event_id] == outcomes["record"].rows[event_id], (name, event_id)


@pytest.fixture(scope="module")
def provider() -> FakeProviders:  # type: ignore[misc]
    with FakeProviders() as fake:
        yield fake


@SETTINGS
@given(drawn=events())
async def test_a_hook_stores_what_the_provider_reported_and_refuses_the_bad_alike(drawn, stores, provider):
    """Through the real `openai` SDK: the counts come from the provider's report, the attribution from
    `tracking.attribute`, the rest (time, latency, event id) from the call itself."""
    url = await stores("hooked")
    calls = [(event, bad) for event, bad in drawn if bad is None or bad.hooked]
    async with tracking.Tracker(url) as tracker:
        clients = {name: tracking.instrument_openai(openai.OpenAI(base_url=provider.url + "/v1", api_key="k"),
                                                    tracker, provider=name) for name in {p for p, _ in MODELS}}
        for event, _ in calls:
            provider.usage = Reported(input=event["input_tokens"], output=event["output_tokens"],
                                      cache_read=event["cache_read_tokens"], cache_write=event["cache_write_tokens"],
                                      reasoning=event["reasoning_tokens"])  # fmt: skip
            with tracking.attribute(**{name: event.get(name) for name in (*ATTRIBUTION, "operation")}):
                await asyncio.to_thread(clients[event["provider"]].chat.completions.create, model=event["model"],
                                        messages=[{"role": "user", "content": "hi"}])  # fmt: skip
    assert rejected_reasons(url) == [f"{bad.field}: {bad.reason}" for _, bad in calls if bad is not None]
    rows = sorted((await stored_rows(url)).values(), key=lambda row: row["ts_ms"])
    good = [event for event, bad in calls if bad is None]
    assert len(rows) == len(good)
    for row, event in zip(rows, good, strict=True):
        assert_stored_as_sent(row, {**event, "ts": datetime.fromtimestamp(row["ts_ms"] / 1000, UTC).isoformat(),
                                    "latency_ms": row["latency_ms"], "status": "ok", "usage_source": "provider",
                                    "metadata": {}})  # fmt: skip


def test_every_rule_of_the_table_is_exercised():
    """The catalogue of bad values touches every kind of rule, so a new rule gets a case here too."""
    from matrix_usage_bot.tracking.validation import RULES

    kinds = {type(RULES[bad.field]).__name__ for bad in BAD}
    assert kinds == {type(rule).__name__ for rule in RULES.values()} - {"Dollars"}  # cost_usd: not record()'s
