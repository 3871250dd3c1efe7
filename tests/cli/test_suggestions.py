"""A mistyped command, choice or option gets a suggestion; `--version` prints the installed version."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from .test_cli import run


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["reprot"], "invalid choice: 'reprot'"),
        (["migrat", "--from", "a", "--to", "b"], "invalid choice: 'migrat'"),
        (["report", "--db", "x.db", "--by", "modle"], "invalid choice: 'modle'"),
        (["report", "--db", "x.db", "--perod", "week"], "unrecognized arguments: --perod week"),
        (["report", "--db", "x.db", "--rooom=!a:x"], "unrecognized arguments: --rooom=!a:x"),
    ],
)
def test_a_typo_gets_a_suggestion(tmp_path, args, hint):
    meant = {"reprot": "report", "migrat": "migrate", "modle": "model", "--perod": "--period", "--rooom=!a:x": "--room"}
    typo = next(a for a in args if a in meant)
    out = run(*args, cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    [line] = out.stderr.splitlines()
    assert hint in line and f"(did you mean {meant[typo]!r}?)" in line, line


def test_a_mistyped_option_is_named_beside_a_missing_argument(tmp_path):
    out = run("--verison", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.endswith("; --verison: unknown option (did you mean '--version'?)\n")
    out = run("chart", "--db", "x.db", "--perdio", "week", "--out", "c.png", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr == ("usage-bot chart: error: the following arguments are required: --room;"
                          " --perdio: unknown option (did you mean '--period'?)\n")


def test_nothing_near_gets_no_suggestion(tmp_path):
    out = run("report", "--db", "x.db", "--zzzzzz", cwd=tmp_path)
    assert out.returncode == 2 and "did you mean" not in out.stderr and "--zzzzzz" in out.stderr


def test_version_is_the_installed_distributions():
    out = run("--version")
    assert (out.returncode, out.stdout) == (0, f"usage-bot {version('matrix-usage-bot')}\n")
