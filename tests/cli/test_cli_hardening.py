"""Far periods, unusable databases and unreadable configs: one clear line and exit status 2, never a traceback."""

from __future__ import annotations

import pytest

from .test_cli import run

FAR = ["9999-12-31", "9999-12", "2026-01-01..9999-12-31", "0000-01-01", "1999-12-31", "99999d", "999999999d"]


@pytest.mark.parametrize("period", FAR)
def test_far_periods_exit_2_with_one_line(tmp_path, period):
    run("ingest", "--db", f"sqlite:///{tmp_path / 'u.db'}", stdin="")
    out = run("report", "--db", f"sqlite:///{tmp_path / 'u.db'}", "--period", period)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    [line] = out.stderr.splitlines()
    assert line.startswith(f"usage-bot report: period {period!r}: ")


def test_unusable_databases_and_configs_exit_2_with_one_line(tmp_path):
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "text.db").write_text("not a database\n" * 100)
    (tmp_path / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    cases = [
        (["report", "--db", f"sqlite:///{tmp_path / 'a-directory'}"], "cannot open the usage database"),
        (["report", "--db", f"sqlite:///{tmp_path / 'text.db'}"], "is not a usage database"),
        (["ingest", "--db", f"sqlite:///{tmp_path / 'text.db'}"], "is not a usage database"),
        (["report", "-c", str(tmp_path / "binary.yaml")], "not a YAML text file"),
        (["check-config", "-c", str(tmp_path / "binary.yaml")], "not a YAML text file"),
        (["check-config", "-c", str(tmp_path / "a-directory")], "cannot read the config file"),
    ]
    for args, message in cases:
        out = run(*args, stdin="")
        assert out.returncode == 2, (args, out.stderr)
        assert "Traceback" not in out.stderr and len(out.stderr.splitlines()) == 1, (args, out.stderr)
        assert message in out.stderr, (args, out.stderr)
