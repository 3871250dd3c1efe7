"""Event rows summed into rollup rows, in plain Python: the one way events reach (or, negated, leave) a rollup.

Computing the sums is independent of the database: the writer prepares one batch while the database thread
is still writing the previous one, and either store adds them to its rollup tables (`ROLLUP_KEYS`) with one
upsert per table. Deleting events is the same sums negated (`signed`): a rollup then equals what remains.

| table                     | key                                                 | grain        |
| ------------------------- | --------------------------------------------------- | ------------ |
| `rollup_slots`            | room, thread, agent, user, provider, model, source  | quarter hour |
| `rollup_room_hourly`      | room                                                | UTC hour     |
| `rollup_agent_hourly`     | room, agent                                         | UTC hour     |
| `rollup_operation_hourly` | room, operation                                     | UTC hour     |
| `rollup_room_daily`       | room                                                | UTC day      |
| `rollup_agent_daily`      | room, agent                                         | UTC day      |
| `rollup_latency_daily`    | room, provider, model, latency bucket (calls only)  | UTC day      |

A slot is a quarter hour (`tracking.slots`): every local midnight and clock hour of every timezone starts on
one, so the fine table answers any calendar period exactly; the hourly and daily tables answer the common
reports (a room, its agents, every room) with few rows. Every key ends with the writer's `shard` (see the
stores; SQLite's is always 0), which `aggregate` leaves to the store: readers sum over it like any column
they do not group by.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import add, itemgetter

from ..fields import COLUMN, COUNTERS, SUM_NAMES
from ..latency import bucket
from ..slots import MS_PER_SLOT, SLOTS_PER_DAY, SLOTS_PER_HOUR

FINE_KEY = ("room_id", "slot", "thread_id", "agent", "user_id", "provider", "model", "source")
ROLLUP_KEYS: dict[str, tuple[str, ...]] = {
    "rollup_slots": FINE_KEY,
    "rollup_room_hourly": ("hour", "room_id"),
    "rollup_agent_hourly": ("room_id", "hour", "agent"),
    "rollup_operation_hourly": ("room_id", "hour", "operation"),
    "rollup_room_daily": ("day", "room_id"),
    "rollup_agent_daily": ("room_id", "day", "agent"),
    "rollup_latency_daily": ("room_id", "day", "provider", "model", "bucket"),
}
"""Each rollup table's key (before `shard`), in the order every store updates the tables (one order for all
writers)."""
SHARD = "shard"
SUM_TABLES = tuple(table for table in ROLLUP_KEYS if table != "rollup_latency_daily")
"""The rollup tables that keep every one of `SUM_NAMES`."""

Sums = dict[str, list[tuple]]
"""Rollup rows by table: each the table's key (without `shard`) then its sums."""


def rollup_sums(table: str) -> tuple[str, ...]:
    """The sums a rollup table keeps: every one of `SUM_NAMES`, but latency buckets count calls only."""
    return SUM_NAMES if table in SUM_TABLES else ("calls",)


_TS_AT, _LATENCY_AT = COLUMN["ts_ms"], COLUMN["latency_ms"]
_ATTRIBUTION = itemgetter(*(COLUMN[name] for name in ("room_id", "thread_id", "agent", "user_id", "provider",
                                                      "model", "source", "operation")))  # fmt: skip
_COUNTERS_AT = tuple(enumerate((COLUMN[name] for name in COUNTERS), start=1))
_COST_AT, _STATUS_AT, _USAGE_SOURCE_AT = COLUMN["cost_pusd"], COLUMN["status"], COLUMN["usage_source"]
_IN_COST_AT, _OUT_COST_AT = COLUMN["input_cost_pusd"], COLUMN["output_cost_pusd"]
_COST, _UNPRICED, _ERRORS, _ESTIMATED, _IN_COST, _OUT_COST = (
    SUM_NAMES.index(name)
    for name in ("cost_pusd", "unpriced_calls", "error_calls", "estimated_calls", "input_cost_pusd", "output_cost_pusd")
)
_WIDTH = len(SUM_NAMES)


def _summed(rows: Sequence[tuple]) -> tuple[dict[tuple, list[int]], dict[tuple, int]]:
    """The rows' sums by (slot, every attribution column), and their latency buckets counted by (room, UTC day,
    provider, model, bucket)."""
    groups: dict[tuple, list[int]] = {}
    latency: dict[tuple, int] = {}
    for r in rows:
        attribution = _ATTRIBUTION(r)
        slot = r[_TS_AT] // MS_PER_SLOT
        sums = groups.get((slot, attribution))
        if sums is None:
            sums = groups[slot, attribution] = [0] * _WIDTH
        sums[0] += 1
        for at, column in _COUNTERS_AT:
            sums[at] += r[column]
        cost = r[_COST_AT]
        if cost is None:
            sums[_UNPRICED] += 1
        else:
            sums[_COST] += cost
            sums[_IN_COST] += r[_IN_COST_AT] or 0
            sums[_OUT_COST] += r[_OUT_COST_AT] or 0
        if r[_STATUS_AT] == "error":
            sums[_ERRORS] += 1
        if r[_USAGE_SOURCE_AT] == "estimated":
            sums[_ESTIMATED] += 1
        if r[_LATENCY_AT] is not None:
            key = (attribution[0], slot // SLOTS_PER_DAY, attribution[4], attribution[5], bucket(r[_LATENCY_AT]))
            latency[key] = latency.get(key, 0) + 1
    return groups, latency


def _add(table: dict[tuple, list[int]], key: tuple, sums: list[int]) -> None:
    into = table.get(key)
    if into is None:
        table[key] = sums
    else:
        table[key] = list(map(add, into, sums))


def aggregate(rows: Sequence[tuple]) -> Sums:
    """The rollup rows of event rows (EVENT_COLUMNS order), for the stores' rollup upserts.

    Only valid when every row was inserted (no event_id already in its room): the stores check.
    """
    groups, latency = _summed(rows)
    fine: dict[tuple, list[int]] = {}
    operations: dict[tuple, list[int]] = {}
    for (slot, (room, thread, agent, user, provider, model, source, operation)), sums in groups.items():
        _add(fine, (room, slot, thread, agent, user, provider, model, source), sums)
        _add(operations, (room, slot // SLOTS_PER_HOUR, operation), sums)
    tables = of_fine(fine)
    tables["rollup_operation_hourly"] = [(*key, *sums) for key, sums in operations.items()]
    tables["rollup_latency_daily"] = [(*key, calls) for key, calls in latency.items()]
    return {table: tables[table] for table in ROLLUP_KEYS}


def of_fine(fine: dict[tuple, list[int]]) -> Sums:
    """The rows of the tables summed from the finest one (`FINE_TABLES`), from its sums by `FINE_KEY`.

    Also how a change to fine rows whose raw events are gone (retention) reaches the coarser tables."""
    agents: dict[tuple, list[int]] = {}
    for (room, slot, _thread, agent, _user, _provider, _model, _source), sums in fine.items():
        _add(agents, (room, slot // SLOTS_PER_HOUR, agent), sums)
    rooms: dict[tuple, list[int]] = {}
    agent_days: dict[tuple, list[int]] = {}
    for (room, hour, agent), sums in agents.items():
        _add(rooms, (hour, room), sums)
        _add(agent_days, (room, hour // 24, agent), sums)
    room_days: dict[tuple, list[int]] = {}
    for (hour, room), sums in rooms.items():
        _add(room_days, (hour // 24, room), sums)
    tables = (fine, rooms, agents, room_days, agent_days)
    return {name: [(*key, *sums) for key, sums in table.items()]
            for name, table in zip(FINE_TABLES, tables, strict=True)}  # fmt: skip


FINE_TABLES = ("rollup_slots", "rollup_room_hourly", "rollup_agent_hourly", "rollup_room_daily", "rollup_agent_daily")
"""The tables `of_fine` sums from the finest one; the others (operations, latency) need the raw events."""


def signed(sums: Sums, sign: int) -> Sums:
    """Rollup rows with every sum times `sign`: -1 takes the events they sum away through the same upserts."""
    times = sign.__mul__
    return {table: [row[: len(ROLLUP_KEYS[table])] + tuple(map(times, row[len(ROLLUP_KEYS[table]) :])) for row in rows]
            for table, rows in sums.items()}  # fmt: skip


@dataclass(frozen=True, slots=True)
class RowBatch:
    """Event rows (EVENT_COLUMNS order) ready to write, their rollup sums computed ahead."""

    rows: Sequence[tuple]
    rejected: Sequence[tuple[int, str, str]]
    sums: Sums
    settles: Sequence[str] = ()
    """Reservations these events end: deleted in the transaction that stores them."""


def prepare_batch(
    rows: Sequence[tuple], rejected: Sequence[tuple[int, str, str]] = (), settles: Sequence[str] = ()
) -> RowBatch:
    return RowBatch(rows, rejected, aggregate(rows), settles)
