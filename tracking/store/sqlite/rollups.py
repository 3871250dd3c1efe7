"""The rollup tables: how a written batch updates them, and which of them answers a report.

Every table holds the same additive sums. They differ in key and time bucket:

| table                 | key                                                     | bucket       |
| --------------------- | ------------------------------------------------------- | ------------ |
| `rollup_hourly`       | room, thread, agent, user, provider, model              | UTC hour     |
| `rollup_agent_hourly` | room, agent                                             | UTC hour     |
| `rollup_agent_daily`  | room, agent                                             | UTC day      |
| `rollup_room_hourly`  | room                                                    | UTC hour     |
| `rollup_room_daily`   | room                                                    | UTC day      |

A UTC day is `hour // 24`. Reports ask for whole UTC hours (local midnights fall on UTC hours in
most timezones; `queries.py` sums the partial ones from raw events), so a span of hours is split
into whole UTC days (daily table) and the hours before and after them (hourly table). The fine
table answers anything the coarse ones cannot (threads, users, models).

| `rollup_operation_hourly` | room, operation                                       | UTC hour     |
| `rollup_latency_hourly` | room, provider, model, latency bucket (calls only)    | UTC hour     |

The store updates all of them once per written batch, inside the batch's transaction, from the
events that the batch really inserted (`seq` above the largest before it: duplicates insert
nothing, so they never reach a rollup). That replaces the per-event trigger of migration 1, whose
one upsert per event per table was the bulk of the write cost.
"""

from __future__ import annotations

from ...fields import COST_SUMS, SUM_NAMES
from ..base import GROUP_COLUMNS, SPLIT, Filters
from ..batch import FINE_KEY

_SUM_LIST = ", ".join(SUM_NAMES)
_INT64_MAX = 2**63 - 1


def _read_sum(name: str) -> str:
    return f"sum({name} / {SPLIT}), sum({name} % {SPLIT})" if name in COST_SUMS else f"sum({name})"


_SUM_READ = ", ".join(_read_sum(name) for name in SUM_NAMES)


def _add(name: str) -> str:
    """A rollup cost that would pass 64 bits becomes NULL, which NOT NULL refuses: SQLite's `+` would
    silently turn it into an imprecise REAL. The writer then rejects the event at fault with its reason."""
    if name not in COST_SUMS:
        return f"{name} = {name} + excluded.{name}"
    return (
        f"{name} = CASE WHEN excluded.{name} > {_INT64_MAX} - {name} THEN NULL"
        f" ELSE {name} + excluded.{name} END"
    )


_ADD = ", ".join(_add(name) for name in SUM_NAMES)


def _upsert_values(table: str, key: tuple[str, ...], sums: tuple[str, ...] = SUM_NAMES) -> str:
    cols = ", ".join(key)
    marks = ", ".join("?" for _ in key + sums)
    add = _ADD if sums == SUM_NAMES else ", ".join(f"{n} = {n} + excluded.{n}" for n in sums)
    return f"INSERT INTO {table} ({cols}, {', '.join(sums)}) VALUES ({marks}) ON CONFLICT ({cols}) DO UPDATE SET {add}"


#: One upsert per rollup table, from the sums `batch.aggregate` computes; one executemany per table.
ROLLUP_UPSERTS: dict[str, str] = {
    "rollup_hourly": _upsert_values("rollup_hourly", FINE_KEY),
    "rollup_agent_hourly": _upsert_values("rollup_agent_hourly", ("room_id", "hour", "agent")),
    "rollup_agent_daily": _upsert_values("rollup_agent_daily", ("room_id", "day", "agent")),
    "rollup_room_hourly": _upsert_values("rollup_room_hourly", ("hour", "room_id")),
    "rollup_room_daily": _upsert_values("rollup_room_daily", ("day", "room_id")),
    "rollup_operation_hourly": _upsert_values("rollup_operation_hourly", ("room_id", "hour", "operation")),
    "rollup_latency_hourly": _upsert_values(
        "rollup_latency_hourly", ("room_id", "hour", "provider", "model", "bucket"), ("calls",)
    ),
}


_ROOM, _AGENT = frozenset({"room_id"}), frozenset({"room_id", "agent"})
_OPERATION = frozenset({"room_id", "operation"})


def rollup_tables(filters: Filters, group: str | None) -> tuple[str, str | None]:
    """(hourly table, daily table or None) holding every column the filters and the group need."""
    needed = set(filters)
    if group is not None and group != "hour":
        needed.add(GROUP_COLUMNS[group])
    if "operation" in needed:
        if not needed <= _OPERATION:
            raise ValueError("a breakdown by operation can be filtered by room only")
        return "rollup_operation_hourly", None
    if "room_id" in filters and needed <= _AGENT:  # room first in the key: a range seek per room
        level = "agent"
    elif needed <= _ROOM:
        level = "room"
    elif needed <= _AGENT:
        level = "agent"
    else:
        return "rollup_hourly", None
    daily = None if group == "hour" else f"rollup_{level}_daily"
    return f"rollup_{level}_hourly", daily


def where_clause(time_col: str, start: int, end: int, filters: Filters) -> tuple[str, list]:
    """``start <= time_col < end`` and the filters (a value, or a tuple of accepted values), with parameters."""
    clauses = [f"{time_col} >= ?", f"{time_col} < ?"]
    params: list = [start, end]
    for column, value in filters.items():
        if isinstance(value, tuple):
            clauses.append(f"{column} IN ({', '.join('?' for _ in value)})")
            params.extend(value)
        else:
            clauses.append(f"{column} = ?")
            params.append(value)
    return " AND ".join(clauses), params


def rollup_query(start_hour: int, end_hour: int, filters: Filters, group: str | None) -> tuple[str, list]:
    """One SELECT summing [start_hour, end_hour) by group (key NULL without a group)."""
    hourly, daily = rollup_tables(filters, group)
    spans: list[tuple[str, str, int, int]] = []
    first_day, last_day = -(-start_hour // 24), end_hour // 24
    if daily is not None and first_day < last_day:
        if start_hour < first_day * 24:
            spans.append((hourly, "hour", start_hour, first_day * 24))
        spans.append((daily, "day", first_day, last_day))
        if last_day * 24 < end_hour:
            spans.append((hourly, "hour", last_day * 24, end_hour))
    else:
        spans.append((hourly, "hour", start_hour, end_hour))
    key = "NULL" if group is None else GROUP_COLUMNS[group]
    arms, params = [], []
    for table, bucket, start, end in spans:
        where, where_params = where_clause(bucket, start, end, filters)
        params.extend(where_params)
        arms.append((table, where))
    group_by = "" if group is None else " GROUP BY k"
    if len(arms) == 1:
        table, where = arms[0]
        return f"SELECT {key} AS k, {_SUM_READ} FROM {table} WHERE {where}{group_by}", params
    inner = " UNION ALL ".join(f"SELECT {key} AS k, {_SUM_LIST} FROM {table} WHERE {where}" for table, where in arms)
    return f"SELECT k, {_SUM_READ} FROM ({inner}){group_by}", params
