"""Pure helpers of the Matrix side: filters, message content, Retry-After, the state store."""

from __future__ import annotations

import pytest

from matrix_usage_bot.bot.matrix.events import (
    inviter_allowed,
    is_command,
    is_edit,
    message_content,
    parse_retry_after,
    thread_root_of,
)


@pytest.mark.parametrize(
    ("inviter", "expected"),
    [
        ("@alice:example.org", True),
        ("@bob:example.org", True),
        ("@eve:evil.org", False),
        ("@alice:sub.example.org", False),
        ("@carol:other.net", True),
        ("@dave:other.net", False),
        ("@mallory:EXAMPLE.ORG", True),
    ],
)
def test_inviter_allowed(inviter, expected):
    assert inviter_allowed(inviter, [":example.org", "@carol:other.net"]) is expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("!usage", True),
        ("!usage week", True),
        ("!usage\tweek", True),
        ("!usage\nx", True),
        ("!usages", False),
        ("!usagetoday", False),
        (" !usage", False),
        ("hi !usage", False),
    ],
)
def test_is_command(body, expected):
    assert is_command(body, "!usage") is expected


def test_edits_and_threads():
    assert is_edit({"m.relates_to": {"rel_type": "m.replace", "event_id": "$e"}})
    assert is_edit({"m.new_content": {"body": "x"}})
    assert not is_edit({"m.relates_to": {"m.in_reply_to": {"event_id": "$e"}}})
    assert thread_root_of({"m.relates_to": {"rel_type": "m.thread", "event_id": "$root"}}) == "$root"
    assert thread_root_of({"m.relates_to": {"m.in_reply_to": {"event_id": "$e"}}}) is None
    assert thread_root_of({"m.relates_to": "garbage"}) is None


def test_message_content_relations_and_mentions():
    c = message_content("m.notice", "p", "<b>h</b>", reply_to="$cmd")
    assert c == {
        "msgtype": "m.notice",
        "body": "p",
        "format": "org.matrix.custom.html",
        "formatted_body": "<b>h</b>",
        "m.relates_to": {"m.in_reply_to": {"event_id": "$cmd"}},
    }
    c = message_content("m.notice", "p", reply_to="$cmd", thread_root="$root")
    assert c["m.relates_to"] == {
        "rel_type": "m.thread",
        "event_id": "$root",
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": "$cmd"},
    }
    assert "format" not in c
    c = message_content("m.text", "p", mentions=["@b:x", "@a:x", "@b:x"])
    assert c["m.mentions"] == {"user_ids": ["@a:x", "@b:x"]} and "m.relates_to" not in c


def test_parse_retry_after():
    assert parse_retry_after(None) is None
    assert parse_retry_after("3") == 3000
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10_000
    assert parse_retry_after("soon") is None
