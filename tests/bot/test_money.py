"""One way to show dollars to people: the currency, thousands separators, cents, and two significant digits
under ten cents (a sub-cent cost is seen, never $0.00); files for machines keep the exact figure."""

from __future__ import annotations

import json

import pytest

from matrix_usage_bot.bot.render.numbers import human_usd
from tests.cli.test_cli import run

PICO_PER_USD = 10**12


@pytest.mark.parametrize(
    ("usd", "shown"),
    [
        ("2304.71650193", "$2,304.72"), ("0.358214", "$0.36"), ("0.1", "$0.10"), ("0.0999", "$0.10"),
        ("0.04375", "$0.044"), ("0.02", "$0.02"), ("0.0100", "$0.01"), ("0.000731", "$0.00073"),
        ("0.0000038", "$0.0000038"), ("0", "$0.00"), ("1000000", "$1,000,000.00"), ("-12.5", "-$12.50"),
    ],
)  # fmt: skip
def test_amounts_as_people_read_them(usd, shown):
    assert human_usd(int(float(usd) * PICO_PER_USD + (0.5 if not usd.startswith("-") else -0.5))) == shown


def test_the_terminal_table_uses_it_and_csv_and_json_stay_exact(tmp_path):
    url = f"sqlite:///{tmp_path / 'u.db'}"
    events = [{"provider": "x", "model": "m", "input_tokens": 3, "cost_usd": cost, "room_id": "!r:hs", "agent": agent}
              for agent, cost in (("big", 1234.5678), ("small", 0.000731))]  # fmt: skip
    assert run("ingest", "--db", url, stdin="\n".join(json.dumps(e) for e in events)).returncode == 0
    table = run("report", "--db", url, "--period", "all", "--by", "agent").stdout.splitlines()
    assert table[1].split()[-4:] == ["Cost", "Unpriced", "Estimated", "Errors"]
    assert [line.split()[-4] for line in table[3:]] == ["$1,234.57", "$0.00073", "$1,234.57"]
    csv = run("report", "--db", url, "--period", "all", "--by", "agent", "--format", "csv").stdout.splitlines()
    assert [line.split(",")[14] for line in csv[1:]] == ["1234.5678", "0.000731"]
    body = json.loads(run("report", "--db", url, "--period", "all", "--format", "json").stdout)
    assert body["totals"]["cost_usd"] == 1234.568531
