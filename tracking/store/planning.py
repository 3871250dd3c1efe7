"""Which rollup table answers a report, and the SQL that sums it: shared by every store.

The SQL is written once with `?` placeholders, in the subset that SQLite and PostgreSQL both read
(the PostgreSQL store turns `?` into its own placeholders). A UTC day is `hour // 24`. Reports ask
for whole UTC hours (`queries.py` sums the partial ones from raw events), so a span of hours is split
into whole UTC days (daily table) and the hours before and after them (hourly table). The fine table
answers anything the coarse ones cannot (threads, users, models).
"""

from __future__ import annotations

from ..fields import COST_SUMS, SUM_NAMES
from .base import GROUP_COLUMNS, SPLIT, Filters

SUM_LIST = ", ".join(SUM_NAMES)


def _read_sum(name: str) -> str:
    return f"sum({name} / {SPLIT}), sum({name} % {SPLIT})" if name in COST_SUMS else f"sum({name})"


_SUM_READ = ", ".join(_read_sum(name) for name in SUM_NAMES)
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
    inner = " UNION ALL ".join(f"SELECT {key} AS k, {SUM_LIST} FROM {table} WHERE {where}" for table, where in arms)
    outer = "NULL" if group is None else "k"
    return f"SELECT {outer}, {_SUM_READ} FROM ({inner}) AS spans{group_by}", params


def events_query(start_ms: int, end_ms: int, filters: Filters, group: str | None, sums: str) -> tuple[str, list]:
    """One SELECT summing raw events with start_ms <= ts_ms < end_ms by group; `sums` is the store's own
    SQL for the sums (SQLite and PostgreSQL count booleans differently)."""
    where, params = where_clause("ts_ms", start_ms, end_ms, filters)
    if group is None:
        return f"SELECT NULL, {sums} FROM events WHERE {where}", params
    key = GROUP_COLUMNS[group]
    return f"SELECT {key}, {sums} FROM events WHERE {where} GROUP BY {key}", params
