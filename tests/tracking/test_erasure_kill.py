"""An interrupted `usage-bot delete` or `usage-bot forget` (the real command in its own process, SIGKILLed at a
random moment after its transaction began) leaves the store as it was before, or as it is after: never between.

The commands run with pages of 50 events (instead of 10,000), so the kills land among many pages of deletes,
updates and rollup changes; the moment is random, after the progress bar (on a pseudo-terminal) first shows."""

from __future__ import annotations

import itertools
import os
import random
import select
import signal
import subprocess
import sys
import time

import pytest

from matrix_usage_bot.tracking.store import is_postgres
from tests.cli.test_rights_cli import ENV, open_terminal
from tests.dbrows import rollup_mismatches, rows
from tests.tracking.rights_world import ALICE, build, snapshot
from tests.tracking.test_forget import naming, totals_without_users

pytestmark = pytest.mark.slow
KILLS = 4
SMALL_PAGES = ("from matrix_usage_bot.tracking.store import erasure as e, forget as f; "
               "e.PAGE = f.PAGE = 50; ")


def killed(args: list[str], rng: random.Random, window: float | None) -> tuple[bool, float]:
    """Run the command and kill it at a random moment within `window` seconds of its progress bar's first showing
    (None: let it finish); returns whether it was still running then, and how long it ran after the bar showed."""
    leader, follower = open_terminal()
    code = SMALL_PAGES + f"from matrix_usage_bot.bot.cli import main; raise SystemExit(main({args!r}))"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=follower, env=ENV)
    os.close(follower)
    try:
        ready, _, _ = select.select([leader], [], [], 60)
        assert ready, "the command showed no progress"
        began = time.monotonic()
        if window is None:
            assert proc.wait(timeout=120) == 0
            return False, time.monotonic() - began
        time.sleep(rng.uniform(0, window))
        running = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        return running, time.monotonic() - began
    finally:
        os.close(leader)


@pytest.fixture
def fresh_store(request, tmp_path, store_url):
    """Makes a new store as `build` does, of the backend of `store_url`; returns its URL."""
    made = itertools.count()

    async def make() -> str:
        if is_postgres(store_url):
            url = request.getfixturevalue("pg_server").new_database()
        else:
            url = f"sqlite:///{tmp_path / f'usage-{next(made)}.db'}"
        await build(url, 6_000, retention=False)
        return url

    return make


async def test_a_killed_delete_leaves_the_store_before_or_after(fresh_store):
    rng, command = random.Random(28), ["delete", "--db", "URL", "--source", "leaky-key", "--yes"]
    window = killed(_on(command, await fresh_store()), rng, None)[1]  # how long a whole run takes here
    url, outcomes = await fresh_store(), []
    while len(outcomes) < KILLS:
        before = snapshot(url)
        leaked = rows(url, "SELECT count(*) FROM events WHERE source = 'leaky-key'")[0][0]
        mid_run, _ = killed(_on(command, url), rng, window)
        now = snapshot(url)
        if now == before:
            outcomes.append(("before", mid_run))
            continue
        assert rows(url, "SELECT count(*) FROM events WHERE source = 'leaky-key'") == [(0,)], "between"
        assert len(now["events"]) == len(before["events"]) - leaked, "between"
        assert set(rollup_mismatches(url).values()) == {0}, "between"
        outcomes.append(("after", mid_run))
        url = await fresh_store()
    assert ("before", True) in outcomes  # at least one kill landed inside the transaction


async def test_a_killed_forget_leaves_the_store_before_or_after(fresh_store):
    rng, command = random.Random(82), ["forget", "--db", "URL", "--user", ALICE, "--yes"]
    window = killed(_on(command, await fresh_store()), rng, None)[1]
    url, outcomes = await fresh_store(), []
    while len(outcomes) < KILLS:
        before, totals = snapshot(url), totals_without_users(url)
        mid_run, _ = killed(_on(command, url), rng, window)
        if snapshot(url) == before:
            outcomes.append(("before", mid_run))
            continue
        assert naming(url) == [], "between"
        assert totals_without_users(url) == totals, "between"
        assert set(rollup_mismatches(url).values()) == {0}, "between"
        outcomes.append(("after", mid_run))
        url = await fresh_store()
    assert ("before", True) in outcomes


def _on(command: list[str], url: str) -> list[str]:
    return [url if word == "URL" else word for word in command]
