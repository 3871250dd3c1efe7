"""The one registry every command module declares its commands in."""

from __future__ import annotations

from .registry import Registry

COMMANDS = Registry()
