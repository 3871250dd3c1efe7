"""A batch of event rows ready to write, with the sums of every rollup computed ahead, in plain Python.

Computing the sums is pure Python and independent of the database: doing it before the write lets
the writer prepare one batch while the database thread is still writing the previous one, and any
store adds them to its rollup tables (fine: room, slot, thread, agent, user, provider, model, source; then
room and agent by slot and by UTC day; room by slot and by UTC day; room and operation by slot; latency
buckets per room, UTC hour, provider and model). A slot is a quarter hour (`tracking.slots`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..fields import COLUMN, COUNTERS, SUM_NAMES
from ..latency import bucket
from ..slots import MS_PER_SLOT, SLOTS_PER_DAY, SLOTS_PER_HOUR

FINE_KEY = ("room_id", "slot", "thread_id", "agent", "user_id", "provider", "model", "source")
ROLLUP_KEYS: dict[str, tuple[str, ...]] = {
    "rollup_slots": FINE_KEY,
    "rollup_agent_slots": ("room_id", "slot", "agent"),
    "rollup_agent_daily": ("room_id", "day", "agent"),
    "rollup_room_slots": ("slot", "room_id"),
    "rollup_room_daily": ("day", "room_id"),
    "rollup_operation_slots": ("room_id", "slot", "operation"),
    "rollup_latency_hourly": ("room_id", "hour", "provider", "model", "bucket"),
}
"""Each rollup table's key, in the order every store updates the tables (the same order in every writer)."""
SUM_TABLES = tuple(table for table in ROLLUP_KEYS if table != "rollup_latency_hourly")
"""The rollup tables that keep every one of `SUM_NAMES`."""
INTEGER_KEYS = frozenset({"slot", "hour", "day", "bucket"})
"""Key columns that hold integers (the others hold text)."""


def rollup_sums(table: str) -> tuple[str, ...]:
    """The sums a rollup table keeps: every one of `SUM_NAMES`, but latency buckets count calls only."""
    return SUM_NAMES if table in SUM_TABLES else ("calls",)

_TS_AT = COLUMN["ts_ms"]
_ATTRIBUTION_AT = tuple(COLUMN[name] for name in ("thread_id", "agent", "user_id", "provider", "model", "source"))
_ROOM_AT, _OPERATION_AT = COLUMN["room_id"], COLUMN["operation"]
_COUNTERS_AT = tuple(enumerate((COLUMN[name] for name in COUNTERS), start=1))
_COST_AT, _STATUS_AT, _USAGE_SOURCE_AT = COLUMN["cost_pusd"], COLUMN["status"], COLUMN["usage_source"]
_IN_COST_AT, _OUT_COST_AT, _LATENCY_AT = COLUMN["input_cost_pusd"], COLUMN["output_cost_pusd"], COLUMN["latency_ms"]
_COST, _UNPRICED, _ERRORS, _ESTIMATED, _IN_COST, _OUT_COST = (
    SUM_NAMES.index(name)
    for name in ("cost_pusd", "unpriced_calls", "error_calls", "estimated_calls", "input_cost_pusd", "output_cost_pusd")
)


def aggregate(rows: Sequence[tuple]) -> dict[str, list[tuple]]:
    """The rollup rows of a batch of event rows (EVENT_COLUMNS order), for ROLLUP_UPSERTS.

    Only valid when every row of the batch was inserted (no event_id already in its room): the store checks.
    """
    by_operation: dict[tuple, list[int]] = {}  # the fine key and the operation
    latency: dict[tuple, int] = {}
    width = len(SUM_NAMES)
    for r in rows:
        key = (r[_ROOM_AT], r[_TS_AT] // MS_PER_SLOT, *(r[i] for i in _ATTRIBUTION_AT), r[_OPERATION_AT])
        sums = by_operation.get(key)
        if sums is None:
            sums = by_operation[key] = [0] * width
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
            lkey = (key[0], key[1] // SLOTS_PER_HOUR, key[5], key[6], bucket(r[_LATENCY_AT]))
            latency[lkey] = latency.get(lkey, 0) + 1
    fine: dict[tuple, list[int]] = {}
    operations: dict[tuple, list[int]] = {}
    for key, sums in by_operation.items():
        _add(fine, key[:-1], sums)
        _add(operations, (key[0], key[1], key[-1]), sums)
    tables = of_fine(fine)
    tables["rollup_operation_slots"] = [(*key, *sums) for key, sums in operations.items()]
    tables["rollup_latency_hourly"] = [(*key, calls) for key, calls in latency.items()]
    return {table: tables[table] for table in ROLLUP_KEYS}


def of_fine(fine: dict[tuple, list[int]]) -> dict[str, list[tuple]]:
    """The rows of the tables summed from the finest one (`FINE_TABLES`), from its sums by `FINE_KEY`.

    Also how a change to fine rows whose raw events are gone (retention) reaches the coarser tables."""
    agent_slots: dict[tuple, list[int]] = {}
    room_slots: dict[tuple, list[int]] = {}
    for (room, slot, _thread, agent, _user, _provider, _model, _source), sums in fine.items():
        _add(agent_slots, (room, slot, agent), sums)
        _add(room_slots, (slot, room), sums)
    agent_daily: dict[tuple, list[int]] = {}
    for (room, slot, agent), sums in agent_slots.items():
        _add(agent_daily, (room, slot // SLOTS_PER_DAY, agent), sums)
    room_daily: dict[tuple, list[int]] = {}
    for (slot, room), sums in room_slots.items():
        _add(room_daily, (slot // SLOTS_PER_DAY, room), sums)
    return {
        "rollup_slots": [(*key, *sums) for key, sums in fine.items()],
        "rollup_agent_slots": [(*key, *sums) for key, sums in agent_slots.items()],
        "rollup_agent_daily": [(*key, *sums) for key, sums in agent_daily.items()],
        "rollup_room_slots": [(*key, *sums) for key, sums in room_slots.items()],
        "rollup_room_daily": [(*key, *sums) for key, sums in room_daily.items()],
    }


FINE_TABLES = ("rollup_slots", "rollup_agent_slots", "rollup_agent_daily", "rollup_room_slots", "rollup_room_daily")
"""The tables `of_fine` sums from the finest one; the others (operations, latency) need the raw events."""


def signed(sums: dict[str, list[tuple]], sign: int) -> dict[str, list[tuple]]:
    """Rollup rows with every sum times `sign`: -1 takes the events they sum away through the same upserts."""
    times = sign.__mul__
    return {table: [row[: len(ROLLUP_KEYS[table])] + tuple(map(times, row[len(ROLLUP_KEYS[table]) :])) for row in rows]
            for table, rows in sums.items()}  # fmt: skip


def _add_into(into: list[int], sums: list[int]) -> None:
    for i, value in enumerate(sums):
        into[i] += value


@dataclass(frozen=True, slots=True)
class RowBatch:
    """Event rows (EVENT_COLUMNS order) ready to write, their rollup sums computed ahead."""

    rows: Sequence[tuple]
    rejected: Sequence[tuple[int, str, str]]
    sums: dict[str, list[tuple]]
    settles: Sequence[str] = ()
    """Reservations these events end: deleted in the transaction that stores them."""


def prepare_batch(
    rows: Sequence[tuple], rejected: Sequence[tuple[int, str, str]] = (), settles: Sequence[str] = ()
) -> RowBatch:
    return RowBatch(rows, rejected, aggregate(rows), settles)


def _add(table: dict[tuple, list[int]], key: tuple, sums: list[int]) -> None:
    into = table.get(key)
    if into is None:
        table[key] = sums.copy()
    else:
        _add_into(into, sums)
