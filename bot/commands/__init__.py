"""Every chat command, declared once in `COMMANDS`. Importing this package registers them all."""

from __future__ import annotations

from .registry import Registry

COMMANDS = Registry()

from . import digest, files, quota, usage  # noqa: E402,F401  (registers their commands)

__all__ = ["COMMANDS"]
