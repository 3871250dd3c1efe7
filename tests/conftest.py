"""Fixtures shared by every test folder.

`store_url` runs a test once per backend: a SQLite file, and a fresh database on the PostgreSQL server
that the session starts once (tests/pg.py). Without PostgreSQL the PostgreSQL runs are skipped, except in
CI (CI=true), where they fail: CI must never pass by not testing a backend.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg import PgServer


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'usage.db'}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    try:
        server = PgServer().start()
    except Exception as exc:  # no binaries, no user to run them as, initdb or start failed
        message = f"PostgreSQL could not be started for the tests: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A fresh, empty PostgreSQL database."""
    return pg_server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'usage.db'}"
    return request.getfixturevalue("pg_url")


def _leftover_threads() -> list[str]:
    """Threads that would keep the interpreter from exiting: a store (aiosqlite's worker), tracker or server
    a test opened and never closed. A thread pool's workers (LiteLLM keeps its own, `litellm-logging_N`) are
    not among them: `concurrent.futures` ends them at exit."""
    import threading

    def pooled(thread: threading.Thread) -> bool:
        return getattr(getattr(thread, "_target", None), "__module__", None) == "concurrent.futures.thread"

    return [t.name for t in threading.enumerate()
            if t is not threading.main_thread() and not t.daemon and t.is_alive() and not pooled(t)]  # fmt: skip


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A test that leaves a store or writer open would hang the run at exit (CI would time out, saying
    nothing): fail the run instead, naming the threads left, and exit without waiting for them."""
    left = _leftover_threads()
    if left:
        import sys

        print(f"\n{len(left)} threads left running after the tests (a store, tracker or server not closed): "
              f"{', '.join(sorted(set(left)))}", file=sys.stderr)  # fmt: skip
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    if _leftover_threads():
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(pytest.ExitCode.TESTS_FAILED))
