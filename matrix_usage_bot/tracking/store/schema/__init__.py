"""The usage store's schema: one declaration for both backends, a step per version (`upgrades`).

Importing this package registers every version: `upgrade_table.plan(version)` gives the steps that bring a
store at `version` (0: a new, empty store) to `LATEST`, each step's SQL written for the store's dialect.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection

from ..base import StoreError
from . import v01_07, v08, v09, v10  # noqa: F401  (each registers its versions)
from .declare import DIALECTS, POSTGRESQL, SQLITE, Dialect
from .upgrades import Upgrade, upgrade_table

APP_ID = "matrix-usage-bot"
"""`meta.app`: tells a usage store from another database."""
LATEST = upgrade_table.latest

log = logging.getLogger(__name__)


def check_store(store: str, backend: str, tables: Collection[str], app: str | None, version: int) -> None:
    """Refuse a database that holds tables but is no usage store (`app` is meta's, None without it)."""
    if not tables or (app == APP_ID and version > 0):
        return
    if "meta" in tables:
        raise StoreError(f"{store} is a {backend} database of something else (no usage-bot meta table)")
    raise StoreError(f"{store} is a {backend} database of something else (tables: {', '.join(sorted(tables)[:5])});"
                     " refusing to use it as the usage database")  # fmt: skip


async def upgrade(store: str, version: int, dialect: Dialect, execute: Callable[[str], Awaitable[object]],
                  set_version: Callable[[int], Awaitable[object]]) -> None:  # fmt: skip
    """Bring the store (named `store` in messages) from `version` to LATEST, inside the caller's transaction:
    a new store in one step, an older one version by version. One INFO line says what was done."""
    if version > LATEST:
        raise StoreError(f"{store} has schema version {version}, newer than this matrix-usage-bot supports"
                         f" ({LATEST}); upgrade matrix-usage-bot")  # fmt: skip
    plan = upgrade_table.plan(version)
    for step in plan:
        for statement in step.statements(dialect):
            await execute(statement)
        await set_version(step.version)
    if version == 0:
        log.info("usage database %s created (schema version %d)", store, LATEST)
    elif plan:
        log.info("usage database %s upgraded from schema version %d to %d", store, version, LATEST)


def statements_to(version: int, dialect: Dialect, start: int = 0) -> list[str]:
    """The SQL that takes a store at `start` to `version` step by step (the fast path is not taken): how a
    test builds a store of an old version."""
    return [s for n in range(start + 1, version + 1) for s in upgrade_table.steps[n].statements(dialect)]


__all__ = ["APP_ID", "DIALECTS", "LATEST", "POSTGRESQL", "SQLITE", "Dialect", "Upgrade", "check_store", "statements_to",
           "upgrade", "upgrade_table"]  # fmt: skip
