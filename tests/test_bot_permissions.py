"""Room admin rules (README: Running the bot), per the Matrix spec's power level rules and room version 12."""

from __future__ import annotations

import pytest

from matrix_usage_bot.bot.matrix.permissions import (
    RoomPowerState,
    has_creator_power,
    is_room_admin,
    required_level,
    room_admins,
    room_creators,
)

A, B, C, D = "@alice:x", "@bob:x", "@carol:x", "@dave:y"


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1", False),
        ("10", False),
        ("11", False),
        ("12", True),
        ("13", True),
        ("org.matrix.hydra.11", True),
        ("org.matrix.msc3757.11", False),
    ],
)
def test_creator_power_versions(version, expected):
    assert has_creator_power(version) is expected


def test_v12_creators_are_admins_without_being_listed():
    pl = {"users": {B: 100, C: 50}, "state_default": 50, "events": {"m.room.power_levels": 100}}
    create = {"room_version": "12", "additional_creators": [D]}
    assert room_creators(create, A) == {A, D}
    assert room_admins(pl, create, A, members=[A, B, C, D]) == {A, B, D}
    assert room_admins(pl, create, A) == {A, B, D}
    assert is_room_admin(D, pl, create, A)
    assert not is_room_admin(C, pl, create, A)


def test_v12_creator_beats_any_required_level():
    pl = {"users": {}, "events": {"m.room.power_levels": 10**9}}
    assert room_admins(pl, {"room_version": "12"}, A, members=[A, B]) == {A}


def test_v11_needs_the_power_levels_level():
    pl = {"users": {A: 100, B: 75, C: 50}, "events": {"m.room.power_levels": 75}}
    create = {"room_version": "11"}
    assert required_level(pl) == 75
    assert room_admins(pl, create, A, members=[A, B, C, D]) == {A, B}


def test_v10_uses_content_creator_and_string_levels():
    pl = {"users": {A: "100", B: "50"}, "events": {"m.room.power_levels": "100"}}  # strings: pre-v10
    assert room_admins(pl, {"room_version": "9", "creator": A}, A, members=[A, B]) == {A}


def test_users_default_and_state_default():
    pl = {"users": {}, "users_default": 50, "state_default": 50}
    assert room_admins(pl, {"room_version": "11"}, A, members=[A, B]) == {A, B}
    assert room_admins(pl, {"room_version": "11"}, A) == {A}  # members unknown: listed users + creator


def test_no_power_levels_event():
    assert required_level(None) == 0
    assert is_room_admin(A, None, {"room_version": "11"}, A)
    assert is_room_admin(B, None, {"room_version": "11"}, A)  # state_default 0: anyone may send it


def test_room_power_state_from_state_events():
    events = [
        {"type": "m.room.create", "state_key": "", "sender": A, "content": {"room_version": "12"}},
        {"type": "m.room.power_levels", "state_key": "", "sender": A, "content": {"users": {B: 100}}},
        {"type": "m.room.member", "state_key": A, "sender": A, "content": {"membership": "join"}},
        {"type": "m.room.member", "state_key": B, "sender": B, "content": {"membership": "leave"}},
        {"type": "m.room.member", "state_key": C, "sender": C, "content": {"membership": "join"}},
    ]
    state = RoomPowerState.from_state_events("!r", events)
    assert state.room_version == "12" and state.create_sender == A
    assert state.admins() == {A}  # bob left
    assert state.is_admin(B)
    assert not state.is_admin(C)
