"""The benchmarks' quick modes as a smoke test: each completes and its answers are right (no timings).

Smaller than the benchmarks' own quick sizes, and sharing what they can: one query database of the query
benchmark's mix (built once, in a folder of this module's) for queries, what-if, the dashboard and the HTTP
API, and the session's PostgreSQL server where a benchmark would start a durable one of its own (durability
is for the timings, which nothing here reads)."""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import ingest, postgres, queries, whatif
from tests.pg import PgServer

EVENTS = 20_000
"""In the shared query database: about fifty a day over the benchmark's 400 days."""


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench")


@pytest.fixture
def session_postgres(pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> None:
    @contextlib.contextmanager
    def server() -> Iterator[PgServer]:
        yield pg_server

    monkeypatch.setattr(postgres, "server", server)


def test_ingest_quick(tmp_path, session_postgres):
    report = ingest.run(quick=True, workdir=tmp_path, postgresql=True, events=5_000, baseline_events=200)
    assert report["problems"] == []
    assert report["ours"]["stored"] == report["ours"]["events"] == report["postgresql"]["stored"] == 5_000
    assert set(report["stages"]) == {"rows", "sums", "floor", "events", "store"}


def test_queries_quick(bench_dir, session_postgres):
    report = queries.run(quick=True, workdir=bench_dir, pg_events=5_000, sizes=[EVENTS])
    assert report["problems"] == []
    (results,) = report["by_size"].values()
    assert all(r["equal"] for r in results.values())
    assert all(r["equal"] for r in report["postgresql"].values())


def test_whatif_quick(bench_dir):
    report = whatif.run(quick=True, workdir=bench_dir, sizes=[EVENTS])
    assert report["problems"] == []
    assert all(r["equal"] and r["calls"] for r in report["results"].values())


@pytest.mark.skipif(importlib.util.find_spec("synapse") is None, reason="needs matrix-synapse (the demo extra)")
def test_roundtrip_and_memory_quick():
    from bench import memory, roundtrip

    report = roundtrip.run(quick=True)
    assert report["problems"] == []
    assert report["stats"]["usage"][0] > 0 and report["stats"]["echo"][0] > 0
    assert memory.run(quick=True)["problems"] == []


def test_hook_overhead_quick():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "bench.hook_overhead", "--quick"], capture_output=True, text=True,
                         timeout=300, check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "hook's own cost" in out.stdout


def test_http_collector_quick(bench_dir):
    from bench import http_collector

    report = http_collector.run(quick=True, workdir=bench_dir, events=2_000, usage_events=EVENTS)
    assert report["problems"] == []
    assert {f["stored"] for f in report["figures"].values()} == {2_000}
    assert set(report["alone_us"]) == set(report["figures"])


def test_dashboard_quick(bench_dir):
    from bench import dashboard

    report = dashboard.run(quick=True, workdir=bench_dir, events=EVENTS)
    assert report["problems"] == []
    assert set(report["results"]) == {"this month", "7 days", "today"}
    assert all(r["refresh_bytes"] < r["load_bytes"] for r in report["results"].values())


def test_dashboard_check_of_an_empty_period():
    """Just after local midnight a room's "today" has no call: the page says 0, `!usage` says "no usage"."""
    from bench.dashboard import agrees

    assert agrees("0", "Usage in this room, today: no usage")
    assert not agrees("0", "today: 3 calls · 1.2k tokens · $0.01 (3 calls estimated: no usage reported)")
    assert agrees("1234", "this month: 1234 calls · 2.0M tokens")
    assert not agrees("1234", "this month: 1235 calls · 2.0M tokens")


def test_erasure_quick(tmp_path, pg_server):
    from bench import erasure

    report = erasure.run(quick=True, doc=None, workdir=tmp_path)
    assert report["problems"] == []
    for results in report["results"].values():
        assert "Deleted 10,000 events" in results["delete"]["out"]
        assert "Erased @erased:example.org: 10,000 events" in results["forget"]["out"]


def test_writers_quick(pg_server):
    from bench import writers

    report = writers.run(quick=True, doc=None)
    assert report["problems"] == []
    assert {r["stored"] for runs in report["runs"]["now"].values() for r in runs} == {4_000}


def test_layout_parts_quick(tmp_path):
    from bench import layout_parts

    report = layout_parts.run(quick=True, events=2_000, workdir=tmp_path)
    assert report["problems"] == []
    assert set(report["medians"]) == {variant.name for variant in layout_parts.VARIANTS}
