"""The schema's versions, one registered step each, and a fast path for a store that has none yet.

In the spirit of maubot's and mautrix's `UpgradeTable`: every version is one function registered with
the version it upgrades to and what it does; both backends run the same steps, each step writing its SQL
for the dialect it is given. A step is frozen once released (its SQL never changes: a change is a new
version). A fresh store skips the history: the step registered with `fresh=True` creates the latest schema
at once, and a test checks that it creates exactly what the steps from version 1 do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .declare import Dialect

Step = Callable[[Dialect], list[str]]
"""A version's SQL, statement by statement, for a dialect."""


@dataclass(frozen=True)
class Upgrade:
    version: int
    description: str
    statements: Step


class UpgradeTable:
    def __init__(self) -> None:
        self.steps: dict[int, Upgrade] = {}
        self.fresh: Upgrade | None = None

    def register(self, upgrades_to: int, description: str, *, fresh: bool = False) -> Callable[[Step], Step]:
        """Register the step from version `upgrades_to - 1` (with `fresh`: from an empty store) to `upgrades_to`."""

        def add(step: Step) -> Step:
            upgrade = Upgrade(upgrades_to, description, step)
            if fresh:
                self.fresh = upgrade
            else:
                if upgrades_to in self.steps or upgrades_to != len(self.steps) + 1:
                    raise ValueError(f"schema version {upgrades_to} registered out of order")
                self.steps[upgrades_to] = upgrade
            return step

        return add

    @property
    def latest(self) -> int:
        return len(self.steps)

    def plan(self, version: int) -> list[Upgrade]:
        """The steps that take a store at `version` (0: empty) to the latest."""
        if version == 0 and self.fresh is not None and self.fresh.version == self.latest:
            return [self.fresh]
        return [self.steps[n] for n in range(version + 1, self.latest + 1)]


upgrade_table = UpgradeTable()
