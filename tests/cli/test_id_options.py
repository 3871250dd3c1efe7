"""A room's name where a room id is wanted (`--room research`) is refused in one line, exit 2, rather than
reported as a room without usage; the same for user and thread ids."""

from __future__ import annotations

import json

import pytest

from .test_cli import run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "--room", "lab"], "argument --room: 'lab' is not a room id (it starts with '!'"),
        (["report", "--room", "!"], "argument --room: '!' is not a room id"),
        (["report", "--user", "carol"], "argument --user: 'carol' is not a user id (@name:server"),
        (["report", "--user", "@carol"], "argument --user: '@carol' is not a user id"),
        (["report", "--thread", "root1"], "argument --thread: 'root1' is not a thread id"),
        (["chart", "--room", "lab", "--out", "c.png"], "argument --room: 'lab' is not a room id"),
    ],
)
def test_a_name_for_an_id_is_refused(tmp_path, args, message):
    url = f"sqlite:///{tmp_path / 'u.db'}"
    event = {"provider": "openai", "model": "gpt-4o", "input_tokens": 7, "output_tokens": 3, "room_id": "!lab:hs"}
    assert run("ingest", "--db", url, stdin=json.dumps(event)).returncode == 0
    out = run(args[0], "--db", url, *args[1:], cwd=tmp_path)
    assert (out.returncode, out.stdout) == (2, "")
    [line] = out.stderr.splitlines()
    assert message in line, line


def test_ids_are_accepted(tmp_path):
    url = f"sqlite:///{tmp_path / 'u.db'}"
    event = {"provider": "openai", "model": "gpt-4o", "input_tokens": 7, "output_tokens": 3, "room_id": "!lab:hs",
             "user_id": "@dana:hs", "thread_id": "$t1"}  # fmt: skip
    assert run("ingest", "--db", url, stdin=json.dumps(event)).returncode == 0
    for room in ("!lab:hs", "!v12roomidwithoutserver"):
        out = run("report", "--db", url, "--period", "all", "--room", room, "--user", "@dana:hs", "--thread", "$t1",
                  "--format", "json")  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["totals"]["calls"] == (1 if room == "!lab:hs" else 0)
