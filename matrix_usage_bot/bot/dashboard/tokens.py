"""Dashboard links: a token bound to one room, with an expiry, that can be revoked (README: Dashboard).

A token is ``d1.<payload>.<mac>``: the payload is base64url JSON ``{"room", "exp", "gen"}`` (the room
id, the expiry in Unix seconds, the room's link generation when it was issued) and the mac is
HMAC-SHA256 over ``d1.<payload>`` with a signing secret that the store keeps, so every process on
the same store (the bot, the plugin, ``usage-bot serve``) checks the others' tokens. Nothing in a
token is secret (its holder knows the room), and nothing but the store's secret can make one.

Revocation: each room has a generation (a per-room value in the store, 0 at first); revoking
increments it, and a token whose generation is not the room's current one is refused. Every
request reads the generation from the store, so a revocation holds at once in every process.

The secret is made once: the first process that finds none claims a random one. Processes that race
for the very first link may each claim one; a token signed with any claimed secret is valid (a
process that does not know a token's secret reads the claimed ones again before refusing it), and
new tokens are signed with the oldest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from matrix_usage_bot.tracking.store import Store

VERSION = "d1"
SECRET_KIND = "dashboard.secret"
GENERATION = "dashboard.generation"
MAX_TOKEN_CHARS = 2048


class TokenRefused(Exception):
    """The token is missing, changed, expired or revoked. `status` is the HTTP answer (401 or 403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Grant:
    """What a valid token allows: the dashboard of `room_id`, until `expires`."""

    room_id: str
    expires: datetime
    generation: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class DashboardTokens:
    """Issues and checks the tokens of one store; `clock` (tests) replaces the wall clock."""

    def __init__(self, store: Store, clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))
        self._secrets: list[bytes] = []

    async def _signing_keys(self, reread: bool = False) -> list[bytes]:
        """The claimed secrets, oldest first (one, unless processes raced for the first link)."""
        if reread or not self._secrets:
            claimed = await self.store.claimed(SECRET_KIND)
            if not claimed:
                await self.store.claim(SECRET_KIND, secrets.token_hex(32))
                claimed = await self.store.claimed(SECRET_KIND)
            self._secrets = [bytes.fromhex(key) for key in claimed]
        return self._secrets

    @staticmethod
    def _mac(key: bytes, signed: str) -> bytes:
        return hmac.new(key, signed.encode(), hashlib.sha256).digest()

    async def _signed(self, signed: str, given: bytes) -> bool:
        """Whether `given` is the mac of `signed` under a claimed secret; every one is compared."""
        for reread in (False, True):
            matches = [hmac.compare_digest(given, self._mac(key, signed)) for key in await self._signing_keys(reread)]
            if any(matches):
                return True
        return False

    async def generation(self, room_id: str) -> int:
        value = (await self.store.room_values(GENERATION)).get(room_id)
        return int(value) if value and value.isdigit() else 0

    async def issue(self, room_id: str, ttl: timedelta) -> tuple[str, datetime]:
        """A token for `room_id` that works for `ttl`; returns it and its expiry."""
        expires = (self.clock() + ttl).replace(microsecond=0)
        claims = {"room": room_id, "exp": int(expires.timestamp()), "gen": await self.generation(room_id)}
        signed = f"{VERSION}.{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
        return f"{signed}.{_b64(self._mac((await self._signing_keys())[0], signed))}", expires

    async def revoke(self, room_id: str) -> int:
        """End every token of the room issued so far; returns the room's new generation."""
        new = await self.generation(room_id) + 1
        await self.store.set_room_value(room_id, GENERATION, str(new))
        return new

    async def verify(self, token: str | None) -> Grant:
        """The grant of a valid token; raises TokenRefused saying why not (never which part was wrong)."""
        if not token:
            raise TokenRefused(401, "no dashboard token: open the link that !usage dashboard gives")
        parts = token.strip().split(".")
        if len(token) > MAX_TOKEN_CHARS or len(parts) != 3 or parts[0] != VERSION:
            raise TokenRefused(401, "this dashboard link is not valid: ask !usage dashboard for a new one")
        try:
            given = _unb64(parts[2])
        except (binascii.Error, ValueError):
            given = b""
        if not await self._signed(f"{parts[0]}.{parts[1]}", given):
            raise TokenRefused(401, "this dashboard link is not valid: ask !usage dashboard for a new one")
        claims = json.loads(_unb64(parts[1]))  # signed by us: well formed
        grant = Grant(claims["room"], datetime.fromtimestamp(claims["exp"], UTC), claims["gen"])
        if grant.expires <= self.clock():
            raise TokenRefused(403, "this dashboard link has expired: ask !usage dashboard for a new one")
        if grant.generation != await self.generation(grant.room_id):
            raise TokenRefused(403, "this dashboard link was revoked: ask !usage dashboard for a new one")
        return grant
