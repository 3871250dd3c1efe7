"""Dashboard tokens on both stores: bound to one room, expiring, revocable, and impossible to change."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from matrix_usage_bot.bot.dashboard.tokens import GENERATION, SECRET_KIND, DashboardTokens, TokenRefused
from matrix_usage_bot.tracking.store import open_store

ROOM, OTHER = "!kitchen:example.org", "!cellar:example.org"
WEEK = timedelta(days=7)


@pytest.fixture
async def store(store_url):
    store = await open_store(store_url)
    yield store
    await store.close()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def with_claims(token: str, **changes: object) -> str:
    """The token with its payload changed and its signature kept: what someone without the secret can make."""
    version, _, mac = token.split(".")
    claims = {**claims_of(token), **changes}
    return f"{version}.{b64(json.dumps(claims, separators=(',', ':')).encode())}.{mac}"


async def refusal(tokens: DashboardTokens, token: str | None) -> tuple[int, str]:
    with pytest.raises(TokenRefused) as info:
        await tokens.verify(token)
    return info.value.status, str(info.value)


async def test_a_token_grants_its_room_until_it_expires_in_every_process(store, store_url):
    issued_at = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)
    token, expires = await DashboardTokens(store, lambda: issued_at).issue(ROOM, WEEK)
    assert expires == datetime(2026, 5, 11, 10, 30, tzinfo=UTC)
    assert claims_of(token) == {"room": ROOM, "exp": int(expires.timestamp()), "gen": 0}
    other_process = await open_store(store_url)  # another connection: the HTTP server's, say
    try:
        just_before = DashboardTokens(other_process, lambda: expires - timedelta(seconds=1))
        grant = await just_before.verify(token)
        assert (grant.room_id, grant.expires, grant.generation) == (ROOM, expires, 0)
        at_expiry = DashboardTokens(other_process, lambda: expires)
        assert await refusal(at_expiry, token) == (
            403, "this dashboard link has expired: ask !usage dashboard for a new one")
    finally:
        await other_process.close()


async def test_no_part_of_a_token_can_be_changed(store):
    tokens = DashboardTokens(store, lambda: datetime(2026, 5, 4, tzinfo=UTC))
    token, expires = await tokens.issue(ROOM, WEEK)
    await tokens.revoke(OTHER)  # the other room's generation is 1: a changed gen alone would match it
    invalid = (401, "this dashboard link is not valid: ask !usage dashboard for a new one")
    version, payload, mac = token.split(".")
    changed = [
        with_claims(token, room=OTHER),
        with_claims(token, room=OTHER, gen=1),
        with_claims(token, exp=int(expires.timestamp()) + 86400 * 365),
        with_claims(token, gen=1),
        with_claims(token, extra="x"),
        f"{version}.{payload}.{mac[:-2]}{'AA' if not mac.endswith('AA') else 'BB'}",
        f"{version}.{payload}.",
        f"{version}.{payload}",
        f"d2.{payload}.{mac}",
        f"{version}.{payload}.{mac}.{mac}",
        f"{version}.{payload}.{'é' * len(mac)}",
        token + "x" * 3000,
        "not a token at all",
    ]
    for bad in changed:
        assert await refusal(tokens, bad) == invalid, bad
    assert await refusal(tokens, None) == (401, "no dashboard token: open the link that !usage dashboard gives")
    assert await refusal(tokens, "") == (401, "no dashboard token: open the link that !usage dashboard gives")
    assert (await tokens.verify(token)).room_id == ROOM


async def test_revoking_ends_every_link_of_the_room_and_no_other(store):
    tokens = DashboardTokens(store, lambda: datetime(2026, 5, 4, tzinfo=UTC))
    first, _ = await tokens.issue(ROOM, WEEK)
    second, _ = await tokens.issue(ROOM, timedelta(days=300))
    elsewhere, _ = await tokens.issue(OTHER, WEEK)
    assert await tokens.revoke(ROOM) == 1
    revoked = (403, "this dashboard link was revoked: ask !usage dashboard for a new one")
    assert await refusal(tokens, first) == revoked
    assert await refusal(tokens, second) == revoked
    assert (await tokens.verify(elsewhere)).room_id == OTHER
    fresh, _ = await tokens.issue(ROOM, WEEK)
    assert (await tokens.verify(fresh)).generation == 1
    assert await store.room_values(GENERATION) == {ROOM: "1"}


async def test_processes_racing_for_the_first_link_agree_on_one_secret(store, store_url):
    stores = [await open_store(store_url) for _ in range(4)]
    try:
        racers = [DashboardTokens(s) for s in stores]
        issued = await asyncio.gather(*(t.issue(ROOM, WEEK) for t in racers))
        for checker in [*racers, DashboardTokens(store)]:
            for token, _ in issued:
                assert (await checker.verify(token)).room_id == ROOM
        secrets = await store.claimed(SECRET_KIND)
        assert len(secrets) >= 1 and len(bytes.fromhex(secrets[0])) == 32
    finally:
        for s in stores:
            await s.close()
