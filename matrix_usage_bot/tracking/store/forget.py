"""`usage-bot forget` and `!usage forget me`: a person erased from the store (README: Data rights).

In one transaction (`store.changes`):

- **Rollups.** The finest rollup is the only one whose key holds a user: each of the person's rows there
  (the sums of their calls in one quarter hour, for one room, thread, agent, provider, model and source, over
  every writer shard) moves to the blank user, whether its raw events are still kept or retention removed
  them. The other tables get the change `batch.of_fine` derives from it (the person's rows taken off, the
  blank user's added: for tables without a user in their key, nothing), so every room's, agent's and model's
  totals stay to the pico-dollar.
- **Events.** Their `user_id` becomes blank, and their id is taken out of any event's `session_id` and
  `metadata` (agents put what they like there).
- **What names them**: quotas set for them (in rooms or everywhere; a quota they set keeps its limit but no
  longer their name), their reservations, and the bot's records naming them (claims such as warnings fired,
  room values, rejected events), as `naming.names` decides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..fields import SUM_NAMES
from .batch import FINE_KEY, FINE_TABLES, ROLLUP_KEYS, of_fine
from .changes import PAGE, Changes, apply_rollups
from .erasure import Fetch, Progress
from .naming import any_like, names, without
from .statements import Statements

BLANK = ""
"""The user of calls nobody is named for."""
if any("user_id" in key and table not in FINE_TABLES for table, key in ROLLUP_KEYS.items()):
    raise ImportError("a rollup keyed by user that batch.of_fine does not derive: forgetting could not reach it")
_USER_AT = FINE_KEY.index("user_id")
_BY_KEY = f" GROUP BY {', '.join(FINE_KEY)}"
_FINE_ROWS = (f"SELECT {', '.join(FINE_KEY)}, {', '.join(f'sum({n})' for n in SUM_NAMES)} FROM rollup_slots"
              " WHERE user_id = ?")  # fmt: skip
"""The person's fine rows, each key summed over the writer shards (add `AND ...`, then `_BY_KEY`)."""
_FINE_KEYS = f"(SELECT 1 FROM rollup_slots WHERE user_id = ?{_BY_KEY}) AS fine_keys"
"""The person's fine rows counted by key, as `_move_rollups` moves them (whatever the shards)."""
_EVENTS_PAGE = (
    "UPDATE events SET user_id = ? WHERE seq IN (SELECT seq FROM events WHERE user_id = ? AND seq > ?"
    " ORDER BY seq LIMIT ?) RETURNING seq"
)


@dataclass
class Erasure:
    """What erasing a person changes (a dry run: would change)."""

    events: int = 0
    """Events whose user was the person."""
    texts: int = 0
    """Events whose session id or metadata named them."""
    rollup_rows: int = 0
    quotas: int = 0
    """Quotas set for them, in rooms or everywhere (cleared ones included)."""
    quotas_set_by: int = 0
    reservations: int = 0
    records: int = 0
    """The bot's records naming them: claims (warnings fired, refusals noted, ...) and room values."""
    rejected: int = 0


class ForgetMixin(Statements):
    """Mixed into a store: the SQL is the dialect SQLite and PostgreSQL share."""

    async def preview_forget(self, user_id: str) -> Erasure:
        """What `forget_user` would change, changing nothing."""
        _check(user_id)
        fetch = self._fetchall
        erasure = Erasure(events=await _count(fetch, "events WHERE user_id = ?", user_id))
        erasure.rollup_rows = await _count(fetch, _FINE_KEYS, user_id)
        erasure.texts = len(await _texts(fetch, user_id))
        erasure.quotas = await _count(fetch, "quota_rules WHERE scope = 'user' AND name = ?", user_id)
        erasure.quotas_set_by = await _count(fetch, "quota_rules WHERE set_by = ?", user_id)
        erasure.reservations = await _count(fetch, "reservations WHERE user_id = ?", user_id)
        claims, values, rejected = await _records(fetch, user_id)
        erasure.records, erasure.rejected = len(claims) + len(values), len(rejected)
        return erasure

    async def forget_user(self, user_id: str, progress: Progress | None = None) -> Erasure:
        """Erase the person from every event, rollup, quota, reservation and record of the store."""
        _check(user_id)
        erasure = Erasure()
        async with self._changes() as changes:
            total = sum([await _count(changes.fetch, rows, user_id)
                         for rows in ("events WHERE user_id = ?", _FINE_KEYS)])  # fmt: skip

            def done(rows: int) -> None:  # the rows changed so far: rollup rows, then events
                if progress is not None:
                    progress(rows, total)

            done(0)
            erasure.rollup_rows = await _move_rollups(changes, user_id, done)
            after = 0
            while page := await changes.fetch(_EVENTS_PAGE, (BLANK, user_id, after, PAGE)):
                erasure.events += len(page)
                after = max(int(r[0]) for r in page)
                done(erasure.rollup_rows + erasure.events)
            texts = await _texts(changes.fetch, user_id)
            await changes.run_many("UPDATE events SET session_id = ?, metadata = ? WHERE seq = ?", texts)
            erasure.texts = len(texts)
            run = changes.run
            erasure.quotas = await run("DELETE FROM quota_rules WHERE scope = 'user' AND name = ?", (user_id,))
            erasure.quotas_set_by = await run("UPDATE quota_rules SET set_by = NULL WHERE set_by = ?", (user_id,))
            erasure.reservations = await run("DELETE FROM reservations WHERE user_id = ?", (user_id,))
            claims, values, rejected = await _records(changes.fetch, user_id)
            await changes.run_many("DELETE FROM claims WHERE kind = ? AND key = ?", claims)
            await changes.run_many("DELETE FROM room_values WHERE room_id = ? AND name = ?", values)
            await changes.run_many("DELETE FROM rejected_events WHERE id = ?", rejected)
            erasure.records, erasure.rejected = len(claims) + len(values), len(rejected)
        return erasure


def _check(user_id: str) -> None:
    if not user_id.strip():
        raise ValueError("name the user to erase: a user id such as @alice:example.org")


async def _count(fetch: Fetch, rows: str, user_id: str) -> int:
    return int((await fetch(f"SELECT count(*) FROM {rows}", (user_id,)))[0][0])


async def _move_rollups(changes: Changes, user_id: str, done: Callable[[int], None]) -> int:
    """Move the person's fine rollup rows to the blank user, a page of whole quarter hours at a time; returns
    how many rows moved."""
    moved, after = 0, -1
    width = len(FINE_KEY)
    while page := await changes.fetch(f"{_FINE_ROWS} AND slot > ?{_BY_KEY} ORDER BY slot LIMIT ?",
                                      (user_id, after, PAGE)):  # fmt: skip
        after = page[-1][1]
        if len(page) == PAGE:  # the last quarter hour may go on past the page: take it whole
            whole = await changes.fetch(f"{_FINE_ROWS} AND slot = ?{_BY_KEY}", (user_id, after))
            page = [r for r in page if r[1] < after] + whole
        delta: dict[tuple, list[int]] = {}  # their rows taken away, the blank user's added (of_fine is linear)
        for r in page:
            sums = [int(v) for v in r[width:]]
            delta[tuple(r[:width])] = [-v for v in sums]
            delta[(*r[:_USER_AT], BLANK, *r[_USER_AT + 1 : width])] = sums
        tables = of_fine(delta)  # a key without the user gets +x and -x: nothing left to change there
        await apply_rollups(changes, {t: [r for r in found if any(r[len(ROLLUP_KEYS[t]) :])]
                                      for t, found in tables.items()})  # fmt: skip
        moved += len(page)
        done(moved)
    return moved


async def _texts(fetch: Fetch, user_id: str) -> list[tuple[str | None, str | None, int]]:
    """(session_id, metadata, seq) without the person, of each event whose session id or metadata names them."""
    on_session, session_params = any_like("session_id", user_id)
    on_metadata, metadata_params = any_like("metadata", user_id)
    sql = f"SELECT seq, session_id, metadata FROM events WHERE {on_session} OR {on_metadata}"
    out = []
    for seq, session, metadata in await fetch(sql, [*session_params, *metadata_params]):
        if names(session, user_id) or names(metadata, user_id):
            kept_session = (without(session, user_id) or None) if session is not None else None
            out.append((kept_session, without(metadata, user_id) if metadata is not None else None, int(seq)))
    return out


async def _records(fetch: Fetch, user_id: str) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """The keys of the claims, room values and rejected events that name the person."""
    on_key, key_params = any_like("key", user_id)
    claims = [(kind, key) for kind, key, room in await fetch(
        f"SELECT kind, key, room_id FROM claims WHERE {on_key} OR room_id = ?", [*key_params, user_id])
        if names(key, user_id) or room == user_id]  # fmt: skip
    on_name, name_params = any_like("name", user_id)
    on_value, value_params = any_like("value", user_id)
    values = [(room, name) for room, name, value in await fetch(
        f"SELECT room_id, name, value FROM room_values WHERE room_id = ? OR {on_name} OR {on_value}",
        [user_id, *name_params, *value_params])
        if room == user_id or names(name, user_id) or names(value, user_id)]  # fmt: skip
    on_reason, reason_params = any_like("reason", user_id)
    on_payload, payload_params = any_like("payload", user_id)
    rejected = [(int(i),) for i, reason, payload in await fetch(
        f"SELECT id, reason, payload FROM rejected_events WHERE {on_reason} OR {on_payload}",
        [*reason_params, *payload_params]) if names(reason, user_id) or names(payload, user_id)]  # fmt: skip
    return claims, values, rejected
