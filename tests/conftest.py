"""Fixtures shared by every test folder.

`store_url` runs a test once per backend: a SQLite file, and a fresh database on the PostgreSQL server
that the session starts once (tests/pg.py). Without PostgreSQL the PostgreSQL runs are skipped, except in
CI (CI=true), where they fail: CI must never pass by not testing a backend.

A test's PostgreSQL database is a copy of one that `open_store` brought to the latest schema once per session
(CREATE DATABASE ... TEMPLATE): the store as `open_store` leaves it, without migrating it again for each test.
A test that builds an older schema by hand asks for `empty_pg_url` (or `empty_store_url`) instead.

The run's temporary files are in memory (see `_temporary_files_in_memory`); the PostgreSQL server's stay on disk.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.pg import PgServer

ON_DISK = os.environ.get("USAGE_BOT_TESTS_ON_DISK") or tempfile.gettempdir()
"""The system's temporary folder (also for a pytest that a test starts): the PostgreSQL server's data stays
there (a copy of the template for each test, gigabytes by the end of a run; the server does not fsync them)."""


def _temporary_files_in_memory() -> None:
    """Every temporary file of the run (tmp_path, Synapse's folder, the bots' and users' nio stores, those of the
    processes tests start) in /dev/shm when there is one and TMPDIR does not say otherwise. SQLite pays an fsync
    per commit on this machine's disk (12 ms; 0.06 ms in memory), and Synapse and nio commit at every step: the
    same programs and files, faster. Only a power cut would tell them apart, and no test cuts the power.
    Set here, when pytest loads this file: before it makes its first temporary folder."""
    memory = Path("/dev/shm")
    if "TMPDIR" in os.environ or not (memory.is_dir() and os.access(memory, os.W_OK | os.X_OK)):
        return
    root = memory / f"usage-bot-tests-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    if root.stat().st_uid != os.getuid():  # someone else's: not a place for our files
        return
    os.environ["USAGE_BOT_TESTS_ON_DISK"] = ON_DISK
    os.environ["TMPDIR"] = str(root)
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again


_temporary_files_in_memory()


def _ctrl_c_reaches_the_processes_tests_start() -> None:
    """A run started in the background by a non-interactive shell (`make test &`, a CI step) ignores SIGINT, and
    every process it starts inherits that: a Python program started with SIGINT ignored never turns Ctrl-C into
    KeyboardInterrupt, so a test that stops one with SIGINT (a bot, pytest itself) would wait for it forever.
    Python's own handler here again means the default in every process the tests start."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


_ctrl_c_reaches_the_processes_tests_start()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'usage.db'}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = None
    try:
        server = PgServer(parent=ON_DISK)
        server.start()
    except Exception as exc:  # no binaries, no user to run them as, initdb or start failed
        if server is not None:
            server.stop()  # its folder
        message = f"PostgreSQL could not be started for the tests: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_migrated(pg_server: PgServer) -> str:
    """A database `open_store` migrated to the latest schema, whatever that is, then closed: the template of
    `pg_url`. No test connects to it (PostgreSQL copies only a database no one is connected to)."""
    from matrix_usage_bot.tracking.store import open_store

    url = pg_server.new_database()

    async def migrate() -> None:
        await (await open_store(url)).close()

    with ThreadPoolExecutor(1) as thread:  # the fixture may be set up while a test's event loop runs
        thread.submit(asyncio.run, migrate()).result()
    return url


@pytest.fixture
def pg_url(pg_server: PgServer, pg_migrated: str) -> str:
    """A fresh PostgreSQL database at the latest schema, as `open_store` leaves a new one."""
    return pg_server.new_database(template=pg_migrated)


@pytest.fixture
def empty_pg_url(pg_server: PgServer) -> str:
    """A fresh, empty PostgreSQL database: for a test that builds an older schema in it."""
    return pg_server.new_database()


def _sqlite_or(request: pytest.FixtureRequest, tmp_path: Path, postgresql_fixture: str) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'usage.db'}"
    return str(request.getfixturevalue(postgresql_fixture))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new SQLite file, or a fresh PostgreSQL database at the latest schema (`pg_url`)."""
    return _sqlite_or(request, tmp_path, "pg_url")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new SQLite file, or a fresh, empty PostgreSQL database: for a test that builds an older schema."""
    return _sqlite_or(request, tmp_path, "empty_pg_url")


@pytest.fixture
def short_lock_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite stores opened during the test wait 0.2 s for another connection's lock, not 5 s: a test holding
    the database locked sees the same retries, spills and give-ups, without sitting out the busy timeout."""
    from matrix_usage_bot.tracking.store.sqlite.store import SQLiteStore

    opened = SQLiteStore.open

    async def open_waiting_briefly(path: str, **options: int) -> SQLiteStore:
        return await opened(path, **{"busy_timeout_ms": 200, **options})

    monkeypatch.setattr(SQLiteStore, "open", staticmethod(open_waiting_briefly))


def _leftover_threads() -> list[str]:
    """Threads that would keep the interpreter from exiting: a store (aiosqlite's worker), tracker or server
    a test opened and never closed. A thread pool's workers (LiteLLM keeps its own, `litellm-logging_N`) are
    not among them: `concurrent.futures` ends them at exit."""
    import threading

    def pooled(thread: threading.Thread) -> bool:
        return getattr(getattr(thread, "_target", None), "__module__", None) == "concurrent.futures.thread"

    return [t.name for t in threading.enumerate()
            if t is not threading.main_thread() and not t.daemon and t.is_alive() and not pooled(t)]  # fmt: skip


_LEFT_IN_WORKERS: list[str] = []
"""In the run's main process: the threads that parallel workers (pytest-xdist) found left at their end."""


@pytest.hookimpl(tryfirst=True)  # a worker sends its `workeroutput` in its own sessionfinish: set it before
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A test that leaves a store or writer open would hang the run at exit (CI would time out, saying
    nothing): fail the run instead, naming the threads left, and exit without waiting for them. A worker's
    exit status does not reach the run's, so a worker tells the main process, which fails the run."""
    left = sorted(set(_leftover_threads())) or _LEFT_IN_WORKERS
    if left:
        import sys

        print(f"\n{len(left)} threads left running after the tests (a store, tracker or server not closed): "
              f"{', '.join(left)}", file=sys.stderr)  # fmt: skip
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput["threads_left"] = left


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """pytest-xdist, in the main process: a worker ended (its `workeroutput` says what it left running)."""
    _LEFT_IN_WORKERS.extend(getattr(node, "workeroutput", {}).get("threads_left", ()))


HEAVY_FILES_FIRST = ("test_bench_quick.py", "tracking/test_postgres_writers.py", "tracking/test_erasure_kill.py",
                     "e2e/test_demo.py", "tracking/test_queries.py", "test_entry_points.py",
                     "hooks/test_enforce_every_hook.py", "test_light_install.py", "http/test_spool.py")  # fmt: skip
"""The files that take longest (20 to 90 s each, 2 workers): the workers take files in the order collected,
and these, collected last by name, kept one worker busy for minutes after the other had finished."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    rank = {name: number for number, name in enumerate(HEAVY_FILES_FIRST)}

    def heavy_first(item: pytest.Item) -> int:
        inside = item.path.is_relative_to(tests)
        return rank.get(item.path.relative_to(tests).as_posix(), len(rank)) if inside else len(rank)

    items.sort(key=heavy_first)  # stable: the others keep pytest's order


def pytest_unconfigure(config: pytest.Config) -> None:
    if _leftover_threads():
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(pytest.ExitCode.TESTS_FAILED))
