"""Remote agents enforce quotas too (README: HTTP API): an HTTP tracker checks and reserves through the real
collector, so a hook with enforce=True refuses a call before the provider is contacted, and calls from many
processes cannot jointly overshoot a hard quota; reservations belong to the key that made them."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from asyncio.subprocess import PIPE
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import openai
import pytest

from matrix_usage_bot import tracking
from matrix_usage_bot.bot.http.server import UsageServer
from matrix_usage_bot.tracking.quotas import refusals
from matrix_usage_bot.tracking.quotas.wire import status_from_json
from matrix_usage_bot.tracking.settings import QuotaSettings, QuotaSpec
from matrix_usage_bot.tracking.store import StoreError
from tests.dbrows import rows
from tests.fakes.providers import FakeProviders, Usage

from .conftest import KEYS, bearer, make_config

MESSAGES = [{"role": "user", "content": "How many tokens is this?"}]
MAX_TOKENS = 40
# A hook reserves the request's input at four characters a token of its messages' JSON, plus max_tokens:
PER_CALL = -(-len(json.dumps([MESSAGES])) // 4) + MAX_TOKENS


def quotas(limit: str, **more) -> dict:
    return {"quotas": {"defaults": [{"scope": "room", "window": "daily", "limit": limit, "hard": True}],
                       "reserve_output_tokens": 100, **more}}  # fmt: skip


@pytest.fixture(scope="module")
def providers():
    with FakeProviders(Usage(input=PER_CALL - MAX_TOKENS, output=MAX_TOKENS, cache_read=0, reasoning=0)) as fake:
        yield fake


@pytest.fixture
async def collector(store_url):
    server = await UsageServer(make_config(store_url, **quotas(str(10 * PER_CALL)))).start()
    yield f"http://127.0.0.1:{server.port}"
    await server.close()


async def ask(client, method: str, url: str, key: str = "writer", **options) -> tuple[int, dict, dict]:
    async with client.request(method, url, headers=bearer(key), **options) as r:
        return r.status, (await r.json() if r.status != 204 else {}), dict(r.headers)


def held(url: str) -> list[tuple]:
    return rows(url, "SELECT id, room_id, tokens FROM reservations ORDER BY id")


async def test_a_hook_enforcing_over_http_is_refused_before_the_provider_is_contacted(store_url, providers, tmp_path,
                                                                                       monkeypatch):  # fmt: skip
    providers.reset()
    monkeypatch.setattr(refusals, "_noted", set())  # this process noted refusals of other tests' stores
    server = await UsageServer(make_config(store_url, **quotas("3k"))).start()
    try:
        url = f"http://127.0.0.1:{server.port}"
        async with tracking.Tracker(url, api_key=KEYS["writer"], spool=tmp_path / "spool.jsonl") as tracker:
            client = tracking.instrument_openai(openai.AsyncOpenAI(base_url=providers.url + "/v1", api_key="k",
                                                                   max_retries=0), tracker, enforce=True)  # fmt: skip
            providers.usage = Usage(input=1800, output=1200, cache_read=0, reasoning=0)  # 3,000: the day's quota
            with tracking.attribute(room_id="!a:x", agent="remote"):
                await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=MAX_TOKENS)
                await tracker.flush()
                assert held(store_url) == []  # the event ended its call's reservation
                with pytest.raises(tracking.QuotaExceeded) as refused:
                    await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=MAX_TOKENS)
            assert len(providers.requests) == 1
            status = await tracker.check_quota(room_id="!a:x", agent="remote")
    finally:
        await server.close()
        providers.usage = Usage(input=PER_CALL - MAX_TOKENS, output=MAX_TOKENS, cache_read=0, reasoning=0)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert str(refused.value) == f"this room's daily token budget is used up (3,000 tokens of 3,000 tokens); " \
                                 f"it resets on {tomorrow}"  # fmt: skip
    assert (refused.value.used, refused.value.limit, refused.value.quota.hard) == (3000, 3000, True)
    async with tracking.Tracker(store_url, quotas=QuotaSettings(defaults=[QuotaSpec(
            scope="room", window="daily", limit="3k", hard=True)])) as local:  # fmt: skip
        assert status == await local.check_quota(room_id="!a:x", agent="remote")
        with pytest.raises(tracking.QuotaExceeded) as locally:
            await local.enforce_quota(room_id="!a:x")
    assert str(locally.value) == str(refused.value)
    assert rows(store_url, "SELECT count(*) FROM claims WHERE kind = 'quota_refusal'") == [(1,)]


async def test_a_remote_call_that_alone_needs_more_than_is_left_is_told_so_as_locally(store_url, tmp_path):
    """The collector's refusal of a call that alone needs more than is left: what it would need and what is left,
    word for word what a tracker on the store says."""
    server = await UsageServer(make_config(store_url, **quotas("4500"))).start()
    try:
        url = f"http://127.0.0.1:{server.port}"
        async with tracking.Tracker(url, api_key=KEYS["writer"], spool=tmp_path / "spool.jsonl") as tracker:
            tracker.record(provider="openai", model="gpt-4o", input_tokens=1000, output_tokens=250, room_id="!a:x")
            await tracker.flush()
            with pytest.raises(tracking.QuotaExceeded) as remote:
                await tracker.reserve(provider="openai", model="gpt-4o", input_tokens=2900, max_output_tokens=800,
                                      room_id="!a:x")  # fmt: skip
    finally:
        await server.close()
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert str(remote.value) == ("this call would need about 3,700 tokens; 3,250 tokens of this room's daily token"
                                 f" budget are left; it resets on {tomorrow}")  # fmt: skip
    assert (remote.value.needed, remote.value.used, remote.value.limit) == (3700, 1250, 4500)
    async with tracking.Tracker(store_url, quotas=QuotaSettings(defaults=[QuotaSpec(
            scope="room", window="daily", limit="4500", hard=True)])) as local:  # fmt: skip
        with pytest.raises(tracking.QuotaExceeded) as locally:
            await local.reserve(provider="openai", model="gpt-4o", input_tokens=2900, max_output_tokens=800,
                                room_id="!a:x")  # fmt: skip
    assert str(locally.value) == str(remote.value)


WORKER = textwrap.dedent(
    """
    import sys, threading
    sys.path.insert(0, {root!r})
    import openai
    from matrix_usage_bot import tracking
    from tests.http.test_reservations import MAX_TOKENS, MESSAGES

    url, key, spool, providers = sys.argv[1:5]
    outcomes = []
    with tracking.Tracker(url, api_key=key, spool=spool, flush_interval=0.01) as tracker:
        client = tracking.instrument_openai(openai.OpenAI(base_url=providers + "/v1", api_key="k", max_retries=0),
                                            tracker, enforce=True)

        def calls():
            with tracking.attribute(room_id="!a:x"):
                for _ in range(6):
                    try:
                        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=MAX_TOKENS)
                        outcomes.append("through")
                    except tracking.QuotaExceeded as exc:
                        outcomes.append(type(exc).__name__)

        threads = [threading.Thread(target=calls) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    print(" ".join(outcomes))
    """
)


@pytest.mark.slow
async def test_two_processes_of_four_threads_never_jointly_exceed_a_hard_quota(collector, store_url, providers,
                                                                                tmp_path):  # fmt: skip
    providers.reset()
    script = WORKER.format(root=str(Path(__file__).resolve().parents[2]))
    workers = [await asyncio.create_subprocess_exec(sys.executable, "-c", script, collector, KEYS["writer"],
                                                    str(tmp_path / f"{n}.jsonl"), providers.url, stdout=PIPE,
                                                    stderr=PIPE) for n in range(2)]  # fmt: skip
    outcomes = []
    for worker in workers:
        out, err = await worker.communicate()
        assert worker.returncode == 0, err.decode()
        outcomes += out.decode().split()
    assert len(outcomes) == 48 and set(outcomes) == {"through", "QuotaExceeded"}
    assert outcomes.count("through") == 10 == len(providers.requests)  # room for exactly ten calls
    [(calls, tokens)] = rows(store_url, "SELECT count(*), sum(input_tokens + output_tokens) FROM events")
    assert calls == 10 and tokens == 10 * PER_CALL
    assert held(store_url) == []


async def test_reservations_belong_to_the_key_and_its_rooms(collector, store_url):
    call = {"provider": "openai", "model": "gpt-4o", "input_tokens": 10 * PER_CALL - 5, "max_output_tokens": 5}
    async with aiohttp.ClientSession() as client:
        reserve = f"{collector}/v1/reservations"
        for key, room, why in (("writer", "!b:x", "room_id: !b:x is outside"), ("writer", None, "room_id: (no room)"),
                               ("reader", "!a:x", "ingest: false")):  # fmt: skip
            status, answer, _ = await ask(client, "POST", reserve, key, json={**call, "room_id": room})
            assert status == 403 and why in answer["error"]
        status, answer, _ = await ask(client, "POST", reserve, json={**call, "input_tokens": -1, "room_id": "!a:x"})
        assert status == 400 and answer["error"].startswith("input_tokens:")

        status, answer, _ = await ask(client, "POST", reserve, json={**call, "room_id": "!a:x", "agent": "a1"})
        assert status == 200 and held(store_url) == [(f"writer/{answer['reservation']}", "!a:x", 10 * PER_CALL)]
        mine = answer["reservation"]
        assert datetime.fromisoformat(answer["expires"]) > datetime.now(UTC) + timedelta(seconds=590)
        # another key can neither end it nor settle it with an event
        assert (await ask(client, "DELETE", f"{reserve}/{mine}", "admin"))[0] == 204
        event = {"provider": "openai", "model": "gpt-4o", "input_tokens": 3, "room_id": "!a:x", "reservation": mine}
        status, _, _ = await ask(client, "POST", f"{collector}/v1/events", "admin", json={**event, "event_id": "x1"})
        assert status == 200 and len(held(store_url)) == 1
        small = {**call, "input_tokens": 1, "room_id": "!a:x"}
        status, refusal, headers = await ask(client, "POST", reserve, json=small)
        assert status == 429 and int(headers["Retry-After"]) >= 1 and "with calls under way" in refusal["error"]
        assert status_from_json(refusal["refused"]).reserved == 10 * PER_CALL
        # its own key ends it, with the event that names it or with DELETE
        status, answer, _ = await ask(client, "POST", f"{collector}/v1/events", json={**event, "reservation": "nope"})
        assert status == 400 and answer == {"error": "events[0].reservation: not a reservation id of this collector "
                                            "(32 hex digits), got 'nope'", "index": 0}  # fmt: skip
        assert (await ask(client, "POST", f"{collector}/v1/events", json={**event, "event_id": "x2"}))[0] == 200
        assert held(store_url) == []
        status, answer, _ = await ask(client, "POST", reserve, json=small)
        assert status == 200 and held(store_url) != []
        assert (await ask(client, "DELETE", f"{reserve}/{answer['reservation']}"))[0] == 204
        assert held(store_url) == []
        status, answer, _ = await ask(client, "POST", reserve, json={**call, "room_id": "!a:x", "provider": "local",
                                                                     "model": "free", "input_tokens": 0})  # fmt: skip
        assert status == 200 and held(store_url) != []  # a room token quota counts every model, priced or not


async def test_a_reservation_expires(store_url):
    server = await UsageServer(make_config(store_url, **quotas("100", reservation_timeout_s=0.2))).start()
    call = {"provider": "openai", "model": "gpt-4o", "input_tokens": 90, "max_output_tokens": 10, "room_id": "!a:x"}
    try:
        async with aiohttp.ClientSession() as client:
            reserve = f"http://127.0.0.1:{server.port}/v1/reservations"
            assert (await ask(client, "POST", reserve, json=call))[0] == 200
            assert (await ask(client, "POST", reserve, json=call))[0] == 429
            await asyncio.sleep(0.3)  # the caller died: its reservation lapses
            assert (await ask(client, "POST", reserve, json=call))[0] == 200
    finally:
        await server.close()


@pytest.mark.parametrize("unreachable", ["refuse", "allow"])
async def test_an_unreachable_collector_refuses_enforced_calls_unless_told_otherwise(providers, tmp_path,
                                                                                     unreachable):  # fmt: skip
    providers.reset()
    server = await UsageServer(make_config(f"sqlite:///{tmp_path / 'usage.db'}")).start()
    url = f"http://127.0.0.1:{server.port}"
    await server.close()  # away
    settings = QuotaSettings(unreachable=unreachable)
    spool = tmp_path / "spool.jsonl"
    async with tracking.Tracker(url, api_key=KEYS["writer"], spool=spool, quotas=settings) as tracker:
        client = tracking.instrument_openai(openai.OpenAI(base_url=providers.url + "/v1", api_key="k", max_retries=0),
                                            tracker, enforce=True)  # fmt: skip
        with tracking.attribute(room_id="!a:x"):
            if unreachable == "refuse":
                with pytest.raises(tracking.QuotaUnavailable, match="its quotas could not be checked"):
                    client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=MAX_TOKENS)
            else:
                client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=MAX_TOKENS)
        assert len(providers.requests) == (unreachable == "allow")
        with pytest.raises(StoreError):  # a check is a question, not a call: no answer is an error
            await tracker.check_quota(room_id="!a:x")
