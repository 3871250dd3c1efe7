"""A batch of event rows ready to write, with the sums of every rollup computed ahead, in plain Python.

Computing the sums is pure Python and independent of the database: doing it before the write lets
the writer prepare one batch while the database thread is still writing the previous one, and any
store adds them to its rollup tables (fine: room, hour, thread, agent, user, provider, model; then
room and agent by hour and by day; room by hour and by day; room and operation by hour; latency
buckets per room, hour, provider and model).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..fields import COLUMN, COUNTERS, SUM_NAMES
from ..latency import bucket

FINE_KEY = ("room_id", "hour", "thread_id", "agent", "user_id", "provider", "model")
ROLLUP_KEYS: dict[str, tuple[str, ...]] = {
    "rollup_hourly": FINE_KEY,
    "rollup_agent_hourly": ("room_id", "hour", "agent"),
    "rollup_agent_daily": ("room_id", "day", "agent"),
    "rollup_room_hourly": ("hour", "room_id"),
    "rollup_room_daily": ("day", "room_id"),
    "rollup_operation_hourly": ("room_id", "hour", "operation"),
    "rollup_latency_hourly": ("room_id", "hour", "provider", "model", "bucket"),
}
"""Each rollup table's key, in the order every store updates the tables (the same order in every writer)."""
INTEGER_KEYS = frozenset({"hour", "day", "bucket"})
"""Key columns that hold integers (the others hold text)."""


def rollup_sums(table: str) -> tuple[str, ...]:
    """The sums a rollup table keeps: every one of `SUM_NAMES`, but latency buckets count calls only."""
    return ("calls",) if table == "rollup_latency_hourly" else SUM_NAMES

_FINE_AT = tuple(COLUMN[name] for name in FINE_KEY)
_COUNTERS_AT = tuple(enumerate((COLUMN[name] for name in COUNTERS), start=1))
_COST_AT, _STATUS_AT = COLUMN["cost_pusd"], COLUMN["status"]
_SOURCE_AT, _IN_COST_AT, _OUT_COST_AT = COLUMN["usage_source"], COLUMN["input_cost_pusd"], COLUMN["output_cost_pusd"]
_KEY_AT = (*_FINE_AT, COLUMN["operation"])
_LATENCY_AT = COLUMN["latency_ms"]
_COST, _UNPRICED, _ERRORS, _ESTIMATED, _IN_COST, _OUT_COST = (
    SUM_NAMES.index(name)
    for name in ("cost_pusd", "unpriced_calls", "error_calls", "estimated_calls", "input_cost_pusd", "output_cost_pusd")
)


def aggregate(rows: Sequence[tuple]) -> dict[str, list[tuple]]:
    """The rollup rows of a batch of event rows (EVENT_COLUMNS order), for ROLLUP_UPSERTS.

    Only valid when every row of the batch was inserted (no duplicate event_id): the store checks.
    """
    by_operation: dict[tuple, list[int]] = {}  # the fine key and the operation
    latency: dict[tuple, int] = {}
    width = len(SUM_NAMES)
    for r in rows:
        key = tuple(r[i] for i in _KEY_AT)
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
        if r[_SOURCE_AT] == "estimated":
            sums[_ESTIMATED] += 1
        if r[_LATENCY_AT] is not None:
            lkey = (key[0], key[1], key[5], key[6], bucket(r[_LATENCY_AT]))
            latency[lkey] = latency.get(lkey, 0) + 1
    fine: dict[tuple, list[int]] = {}
    operations: dict[tuple, list[int]] = {}
    for key, sums in by_operation.items():
        _add(fine, key[:-1], sums)
        _add(operations, (key[0], key[1], key[-1]), sums)
    agent_hourly: dict[tuple, list[int]] = {}
    room_hourly: dict[tuple, list[int]] = {}
    for (room, hour, _thread, agent, _user, _provider, _model), sums in fine.items():
        _add(agent_hourly, (room, hour, agent), sums)
        _add(room_hourly, (hour, room), sums)
    agent_daily: dict[tuple, list[int]] = {}
    for (room, hour, agent), sums in agent_hourly.items():
        _add(agent_daily, (room, hour // 24, agent), sums)
    room_daily: dict[tuple, list[int]] = {}
    for (hour, room), sums in room_hourly.items():
        _add(room_daily, (hour // 24, room), sums)
    return {
        "rollup_hourly": [(*key, *sums) for key, sums in fine.items()],
        "rollup_agent_hourly": [(*key, *sums) for key, sums in agent_hourly.items()],
        "rollup_agent_daily": [(*key, *sums) for key, sums in agent_daily.items()],
        "rollup_room_hourly": [(*key, *sums) for key, sums in room_hourly.items()],
        "rollup_room_daily": [(*key, *sums) for key, sums in room_daily.items()],
        "rollup_operation_hourly": [(*key, *sums) for key, sums in operations.items()],
        "rollup_latency_hourly": [(*key, calls) for key, calls in latency.items()],
    }


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
