"""What every store shares: the row layout, group keys, filters, sums and errors."""

from __future__ import annotations

from dataclasses import make_dataclass
from typing import Any

from ..fields import COST_SUMS, SUM_NAMES

GROUP_COLUMNS = {
    "agent": "agent",
    "model": "model",
    "provider": "provider",
    "user": "user_id",
    "room": "room_id",
    "thread": "thread_id",
    "operation": "operation",
    "source": "source",
}
"""Groups by a column; "day" and "hour" are local times, keyed by the planner (`planning.LOCAL_GROUPS`)."""

FILTER_COLUMNS = frozenset({"room_id", "thread_id", "agent", "user_id", "source"})

MS_PER_HOUR = 3_600_000
SPLIT = 1_000_000
"""Reports sum costs as `sum(c / SPLIT), sum(c % SPLIT)`: neither part can wrap 64 bits, their combination is exact."""


class Filters(dict[str, str | tuple[str, ...]]):
    """Filters on attribution columns: a value, or a tuple of accepted values. Only known columns."""

    def __init__(self, **values: str | tuple[str, ...] | None) -> None:
        unknown = set(values) - FILTER_COLUMNS
        if unknown:
            raise ValueError(f"unknown filter {', '.join(sorted(unknown))}")
        super().__init__({key: value for key, value in values.items() if value is not None})


def _add(self: Any, other: Any) -> None:
    for name in SUM_NAMES:
        setattr(self, name, getattr(self, name) + getattr(other, name))


def _from_row(cls: type, row: tuple) -> Any:
    """A row of (key, one column per sum, but each cost as cost // SPLIT and cost % SPLIT), as SQL reads them."""
    values = iter(int(v or 0) for v in row[1:])
    sums = [next(values) * SPLIT + next(values) if name in COST_SUMS else next(values) for name in SUM_NAMES]
    return cls(row[0], *sums)


Sums = make_dataclass(
    "Sums",
    [("key", str | int | None, None), *((name, int, 0) for name in SUM_NAMES)],
    namespace={
        "__doc__": "Additive totals of a group of events, one attribute per `SUM_NAMES`; cost sums priced calls.",
        "add": _add,
        "from_row": classmethod(_from_row),
        "total_tokens": property(lambda self: self.input_tokens + self.output_tokens),
    },
    slots=True,
)


class StoreError(Exception):
    """The usage database cannot be used; the message says why in one line."""
